"""The AWS clients this process has made, as a whole (the data layer makes and caches each one)."""

from letslive.data import aws


def forget_aws_clients() -> None:
    """Drop every cached AWS client and connection: the next call makes its own."""
    aws.reset_clients()

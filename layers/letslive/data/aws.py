"""The AWS endpoint seam: real AWS, moto in-process, or a LocalStack-compatible emulator.

Every boto3 client is built here, lazily and once per process, from `Settings`.
"""

from functools import cache
from typing import TYPE_CHECKING, Any

from letslive.settings import get_settings

if TYPE_CHECKING:
    from botocore.config import Config


def client_config(timeout_seconds: float | None = None) -> "Config":
    from botocore.config import Config

    if timeout_seconds is None:
        return Config(retries={"mode": "standard", "total_max_attempts": 3})
    # Probes fail fast: one attempt, short timeouts.
    return Config(
        connect_timeout=timeout_seconds,
        read_timeout=timeout_seconds,
        # `total_max_attempts` counts the first try; botocore's `max_attempts` does not.
        retries={"mode": "standard", "total_max_attempts": 1},
    )


@cache
def client(service_name: str, timeout_seconds: float | None = None) -> Any:
    """A boto3 client for `service_name` pointed at the configured endpoint."""
    import boto3

    settings = get_settings()
    return boto3.session.Session().client(
        service_name,  # type: ignore[call-overload]
        region_name=settings.region,
        endpoint_url=settings.aws_endpoint_url,
        config=client_config(timeout_seconds),
    )


def reset_clients() -> None:
    """Drop cached clients (tests switch endpoints and credentials between cases)."""
    client.cache_clear()

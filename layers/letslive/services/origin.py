"""Whether a request came through our CloudFront distribution: it presents the deploy-time
origin-verify secret, which the distribution adds to every request it forwards."""

import hmac
from functools import lru_cache

from letslive.settings import get_settings


@lru_cache(maxsize=4)
def load_origin_verify_secret(secret_id: str) -> str:
    """Read once per process: the secret is never rotated (CloudFormation copies it into the
    distribution only at deploy time)."""
    from letslive.data.secrets import read_secret

    return read_secret(secret_id, "origin-verify secret")


def came_through_our_distribution(presented: str | None) -> bool:
    """Whether `presented` is the origin-verify secret (never, where none is configured)."""
    secret_id = get_settings().origin_verify_secret
    if not secret_id or not presented:
        return False
    expected = load_origin_verify_secret(secret_id)
    # Constant time, so the secret cannot be guessed a byte at a time from response timings.
    return bool(expected) and hmac.compare_digest(presented.encode(), expected.encode())

"""The AWS endpoint seam: real AWS, moto in-process, or a LocalStack-compatible emulator.

Every boto3 client is built here, lazily and once per process, from `Settings`; every cache of
clients (here and in the other adapters) registers with `cached_client`, so `reset_clients` can
drop them all.
"""

from collections.abc import Callable
from functools import _lru_cache_wrapper, cache
from typing import TYPE_CHECKING, Any, TypeVar

from letslive.settings import get_settings

if TYPE_CHECKING:
    from botocore.config import Config

T = TypeVar("T")

# What `reset_clients` calls: each cache's `cache_clear`, and any other holder's own reset.
_resets: list[Callable[[], None]] = []


def cached_client(factory: Callable[..., T]) -> "_lru_cache_wrapper[T]":
    """`functools.cache` for a factory of AWS clients, dropped by `reset_clients`."""
    cached = cache(factory)
    _resets.append(cached.cache_clear)
    return cached


def on_reset_clients(reset: Callable[[], None]) -> Callable[[], None]:
    """Have `reset_clients` also call `reset` (a holder of connections that is not a cache)."""
    _resets.append(reset)
    return reset


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


@cached_client
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
    """Drop every cached client and connection, so the next call makes its own: tests switch
    endpoints and credentials between cases; a sandbox restored from a SnapStart snapshot must
    not share the snapshot's."""
    for reset in _resets:
        reset()

"""Restream destinations: a streamer's list (the HTTP service) and what the ingest worker
forwards a broadcast to.

Keys are sealed (`KeySealer`, KMS in `letslive.data.kms`) before they are stored and only their
last characters are ever shown again. A `PUT` replaces the whole list: a saved destination is
named by its id and keeps its sealed key unless a new one is given.
"""

import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final, Protocol
from urllib.parse import urlsplit

from letslive.errors import DependencyUnavailable, InvalidDestination
from letslive.models.restream import (
    DESTINATIONS_MAX,
    Destination,
    DestinationInput,
    DestinationList,
    DestinationsUpdate,
    ForwardTarget,
    StoredDestination,
    key_hint,
    private_address,
)

logger = logging.getLogger(__name__)

# Keys the worker opened, by sealed key and channel: a live broadcast reads its destinations
# every few seconds, and KMS is asked once per key, not per read.
OPENED_KEYS_MAX: Final = 256


class DestinationStore(Protocol):
    def destinations(self, username: str) -> list[StoredDestination]: ...

    def replace(self, username: str, destinations: list[StoredDestination]) -> None: ...


class KeySealer(Protocol):
    def seal(self, secret: str, channel: str) -> str: ...

    def open(self, sealed: str, channel: str) -> str: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return secrets.token_hex(6)


class RestreamService:
    def __init__(
        self,
        store: DestinationStore,
        sealer: KeySealer,
        *,
        allow_private_hosts: bool = False,
        clock: Callable[[], datetime] = _utcnow,
        new_id: Callable[[], str] = _new_id,
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.allow_private_hosts = allow_private_hosts
        self._clock = clock
        self._new_id = new_id
        self._opened: dict[tuple[str, str], str] = {}

    def destinations(self, username: str) -> DestinationList:
        return _listed(self.store.destinations(username.lower()))

    def replace(self, username: str, update: DestinationsUpdate) -> DestinationList:
        """Save `update` as the channel's whole list (checked whole before anything is sealed)."""
        channel = username.lower()
        saved = {d.id: d for d in self.store.destinations(channel)}
        self._check(update.destinations, saved)
        now = self._clock()
        result = [self._stored(item, saved.get(item.id or ""), channel, now) for item in update.destinations]
        self.store.replace(channel, result)
        return _listed(result)

    def forward_targets(self, username: str) -> list[ForwardTarget]:
        """The enabled destinations with their keys opened, for the worker. A key that cannot be
        opened is left out (logged): one bad key must not keep the others from going live."""
        channel = username.lower()
        targets = []
        for stored in self.store.destinations(channel):
            if not stored.enabled:
                continue
            try:
                key = self._open(stored.sealed_key, channel)
            except DependencyUnavailable as exc:
                logger.warning("restream key not opened; destination skipped: %s", exc.detail, extra={"id": stored.id})
                continue
            targets.append(ForwardTarget(stored.id, stored.name, stored.url, key))
        return targets

    def _open(self, sealed: str, channel: str) -> str:
        key = self._opened.get((sealed, channel))
        if key is None:
            key = self.sealer.open(sealed, channel)
            if len(self._opened) >= OPENED_KEYS_MAX:
                self._opened.clear()
            self._opened[sealed, channel] = key
        return key

    def _check(self, items: list[DestinationInput], saved: dict[str, StoredDestination]) -> None:
        if len(items) > DESTINATIONS_MAX:
            raise InvalidDestination(f"at most {DESTINATIONS_MAX} destinations")
        ids = [item.id for item in items if item.id is not None]
        if len(ids) != len(set(ids)):
            raise InvalidDestination("a destination is given twice")
        for item in items:
            if item.id is not None and item.id not in saved:
                raise InvalidDestination(f"no saved destination has the id {item.id}")
            if item.id is None and item.key is None:
                raise InvalidDestination(f"the new destination {item.name!r} needs its stream key")
            host = urlsplit(item.url).hostname or ""
            if not self.allow_private_hosts and (private_address(host) or host.lower() == "localhost"):
                raise InvalidDestination(f"{item.name!r}: the server must be a public address")

    def _stored(
        self, item: DestinationInput, saved: StoredDestination | None, channel: str, now: datetime
    ) -> StoredDestination:
        if item.key is None:
            assert saved is not None  # `_check`: only a saved destination may omit its key
            sealed, hint = saved.sealed_key, saved.key_hint
        else:
            sealed, hint = self.sealer.seal(item.key, channel), key_hint(item.key)
        stored = StoredDestination(
            id=saved.id if saved else self._new_id(),
            name=item.name,
            url=item.url,
            sealed_key=sealed,
            key_hint=hint,
            enabled=item.enabled,
            updated_at=now,
        )
        unchanged = (
            saved is not None
            and item.key is None
            and (saved.name, saved.url, saved.enabled)
            == (
                stored.name,
                stored.url,
                stored.enabled,
            )
        )
        return saved if unchanged and saved is not None else stored


def _listed(stored: list[StoredDestination]) -> DestinationList:
    return DestinationList(
        destinations=[
            Destination(
                id=d.id, name=d.name, url=d.url, key_hint=d.key_hint, enabled=d.enabled, updated_at=d.updated_at
            )
            for d in stored
        ],
        max=DESTINATIONS_MAX,
    )


def restream_service() -> RestreamService:
    """The service on its configured backends (DynamoDB, KMS)."""
    from letslive.data.destinations import DestinationRepository
    from letslive.data.kms import KmsSealer
    from letslive.settings import get_settings

    settings = get_settings()
    return RestreamService(
        DestinationRepository(),
        KmsSealer(settings.required("restream_key")),
        allow_private_hosts=settings.restream_allow_private_hosts,
    )

"""A room's moderation settings for its owner and moderators (the chat HTTP service).

Apart from `ChatService` because it needs only the tables: no `@connections` endpoint, queue or
event bus, which the HTTP function is not given.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from letslive.errors import Forbidden
from letslive.models.chat import Ban, BanEntry, Room, RoomSettings
from letslive.models.handles import normalize_channel
from letslive.services.tokens import AccessClaims


class SettingsStore(Protocol):
    def room(self, channel: str) -> Room: ...

    def bans(self, channel: str, now: datetime) -> list[Ban]: ...


class Audience(Protocol):
    def count(self, channel: str) -> int: ...


class RoomSettingsService:
    def __init__(
        self, rooms: SettingsStore, connections: Audience, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.rooms = rooms
        self.connections = connections
        self._clock = clock

    def settings(self, channel: str, caller: AccessClaims) -> RoomSettings:
        name = normalize_channel(channel)
        room = self.rooms.room(name)
        if caller.username != name and caller.username not in room.moderators:
            raise Forbidden("only the channel's owner and moderators may see its chat settings")
        bans = self.rooms.bans(name, self._clock())
        return RoomSettings(
            channel=name,
            slow_seconds=room.slow_seconds,
            moderators=sorted(room.moderators),
            bans=[BanEntry(user=ban.user, by=ban.by, at=ban.at, until=ban.until) for ban in bans],
            viewers=self.connections.count(name),
        )


def room_settings_service() -> RoomSettingsService:
    from letslive.data.chat import ChatRepository, ConnectionRepository

    return RoomSettingsService(ChatRepository(), ConnectionRepository())

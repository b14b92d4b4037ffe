"""Issue 14 (6), replayed against the running platform: anonymous WebSockets from one address
inflated a room's viewer count without bound.

Real sockets to the emulator's WebSocket API, each bound to a loopback source address of its
own choosing (127.0.0.2, 127.0.0.3, ...): the emulator passes the TCP peer to `$connect` as
`requestContext.identity.sourceIp`, as API Gateway does, so each address is a distinct client.
The viewer count is read from the room's settings (the owner's `GET /chat/{channel}/settings`),
which counts the room's connections as the published `ViewerCountChanged` does.
"""

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from functools import partial
from urllib.parse import urlencode

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from letslive.constants import ENV_PREFIX
from letslive.settings import Settings
from tests.e2e.conftest import LocalPlatform

PASSWORD = "correct horse battery staple 42"
# Generous: on a busy 2-core machine a Lambda's cold start alone can take tens of seconds.
TIMEOUT = 90.0
SETTING = "chat_connections_per_address"


def _owner(api: httpx.Client, username: str) -> dict[str, str]:
    """A new account (so a new room); the bearer header of its owner."""
    email = f"{username}@example.com"
    signup = _retried(
        lambda: api.post("/auth/signup", json={"username": username, "email": email, "password": PASSWORD})
    )
    # 409: an attempt that timed out (a cold start on a busy machine) had created it after all.
    assert signup.status_code in (201, 409), signup.text
    login = _retried(lambda: api.post("/auth/login", json={"username": username, "password": PASSWORD}))
    assert login.status_code == 200, login.text
    return {"authorization": f"Bearer {login.json()['access_token']}"}


def _retried(call: Callable[[], httpx.Response]) -> httpx.Response:
    """`call` again while the emulator's Lambda timed out (a cold start past the 10 s timeout)."""
    for _ in range(3):
        response = call()
        if response.status_code not in (502, 504):
            return response
    return response


@pytest.fixture(scope="module")
def cap(platform: LocalPlatform) -> int:
    """The cap the deployed `$connect` function runs with: the setting's default unless its
    environment overrides it."""
    client = platform.deployment.client("lambda")
    functions = [
        function
        for page in client.get_paginator("list_functions").paginate()
        for function in page["Functions"]
        if function.get("Handler") == "functions.chat.websocket.connect"
    ]
    assert len(functions) == 1, [function["FunctionName"] for function in functions]
    environment = functions[0].get("Environment", {}).get("Variables", {})
    default = Settings.model_fields[SETTING].default
    return int(environment.get(f"{ENV_PREFIX}{SETTING.upper()}", default))


@pytest.fixture(scope="module")
def rooms(platform: LocalPlatform) -> Iterator[dict[str, Callable[[], int]]]:
    """Two fresh rooms: channel → its viewer count."""
    suffix = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=platform.deployment.http_api_url, timeout=TIMEOUT) as api:
        owners = {name: _owner(api, name) for name in (f"room_{suffix}", f"other_{suffix}")}

        def counter(channel: str) -> Callable[[], int]:
            def viewers() -> int:
                response = _retried(lambda: api.get(f"/chat/{channel}/settings", headers=owners[channel]))
                assert response.status_code == 200, response.text
                count: int = response.json()["viewers"]
                return count

            return viewers

        counters = {channel: counter(channel) for channel in owners}
        # Warm the chat functions up (a cold start on a busy machine can pass the route's
        # timeout, which would refuse a handshake for the wrong reason), then start empty.
        for channel, viewers in counters.items():
            _wait(partial(_accepted, platform, channel, "127.0.0.9"), "the chat never opened")
            _wait(partial(_empty, viewers), "the warm-up connection is still counted")
        yield counters


def _open(platform: LocalPlatform, channel: str, address: str) -> AbstractContextManager[ClientConnection]:
    """An anonymous WebSocket to `channel`'s room from `address`; `InvalidStatus` if refused."""
    url = f"{platform.websocket_url}?{urlencode({'channel': channel})}"
    return connect(url, open_timeout=TIMEOUT, source_address=(address, 0))


def _refused(platform: LocalPlatform, channel: str, address: str) -> bool:
    try:
        with _open(platform, channel, address):
            pass
    except InvalidStatus:
        return True
    return False


def _accepted(platform: LocalPlatform, channel: str, address: str) -> bool:
    return not _refused(platform, channel, address)


def _empty(viewers: Callable[[], int]) -> bool:
    return viewers() == 0


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_one_address_cannot_inflate_a_rooms_viewer_count(
    platform: LocalPlatform, rooms: dict[str, Callable[[], int]], cap: int
) -> None:
    room, other = rooms
    viewers = rooms[room]
    with ExitStack() as sockets:
        held = [sockets.enter_context(_open(platform, room, "127.0.0.2")) for _ in range(cap)]
        assert viewers() == cap

        # The hole: every further anonymous socket from the same address used to count too.
        for _ in range(3):
            assert _refused(platform, room, "127.0.0.2")
        assert viewers() == cap

        # Another address in the same room, the same address in another room: unaffected.
        sockets.enter_context(_open(platform, room, "127.0.0.3"))
        assert viewers() == cap + 1
        sockets.enter_context(_open(platform, other, "127.0.0.2"))
        assert rooms[other]() == 1

        # Closing a connection frees its slot (once its $disconnect has run), and only one.
        held[0].close()
        _wait(lambda: viewers() == cap, "the closed connection is still counted")
        sockets.enter_context(_open(platform, room, "127.0.0.2"))
        assert _refused(platform, room, "127.0.0.2")
        assert viewers() == cap + 1


def test_a_burst_of_concurrent_connects_cannot_pass_the_cap(
    platform: LocalPlatform, rooms: dict[str, Callable[[], int]], cap: int
) -> None:
    room = next(iter(rooms))
    # The sockets of the test before may still be leaving ($disconnect runs after the close).
    _wait(lambda: rooms[room]() == 0, "the room is not empty")

    def attempt(_: int) -> ExitStack | None:
        """The open socket's context (to close it later), or None when refused."""
        with ExitStack() as stack:
            try:
                stack.enter_context(_open(platform, room, "127.0.0.4"))
            except InvalidStatus:
                return None
            return stack.pop_all()

    with ThreadPoolExecutor(max_workers=cap + 5) as pool:
        opened = list(pool.map(attempt, range(cap + 5)))
    try:
        accepted = [socket for socket in opened if socket is not None]
        assert len(accepted) == cap
        assert rooms[room]() == cap
    finally:
        for socket in opened:
            if socket is not None:
                socket.close()
    _wait(lambda: rooms[room]() == 0, "the burst's connections are still counted")

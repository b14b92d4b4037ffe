"""`TcpServer`, the listener lifecycle the health endpoint and RTMP share, on 127.0.0.1."""

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from workers.ingest.tcp import TcpServer

CLIENT_TIMEOUT = 5.0


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


async def echo_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(await reader.readline())
    await writer.drain()


async def talk(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), CLIENT_TIMEOUT)
    finally:
        writer.close()


def test_start_returns_the_bound_port_and_close_stops_listening() -> None:
    async def scenario() -> None:
        server = TcpServer("test", echo_line)
        assert not server.listening
        port = await server.start("127.0.0.1", 0)
        assert server.listening
        assert server.port == port > 0
        with pytest.raises(RuntimeError, match="already listening"):
            await server.start("127.0.0.1", 0)
        # The handler ran, and the connection was closed after it returned.
        assert await talk(port, b"hello\n") == b"hello\n"
        await server.close()
        await server.close()  # a second close changes nothing
        assert not server.listening
        with pytest.raises(RuntimeError, match="not listening"):
            _ = server.port
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)

    run(scenario)


def test_a_failing_handler_ends_its_connection_only(caplog: pytest.LogCaptureFixture) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        if line == b"fail\n":
            raise RuntimeError("handler bug")
        writer.write(line)

    async def scenario() -> None:
        server = TcpServer("test", handler)
        port = await server.start("127.0.0.1", 0)
        try:
            assert await talk(port, b"fail\n") == b""
            assert await talk(port, b"fine\n") == b"fine\n"
            assert server.active_connections == 0
        finally:
            await server.close()

    with caplog.at_level(logging.ERROR):
        run(scenario)
    assert [record.getMessage() for record in caplog.records] == ["test connection failed"]


def test_close_gives_connections_the_grace_then_cancels_them(caplog: pytest.LogCaptureFixture) -> None:
    ended: dict[str, str] = {}
    both_in = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        name = (await reader.readline()).decode().strip()
        ended[name] = "running"
        if len(ended) == 2:
            both_in.set()
        try:
            await asyncio.sleep(0.1 if name == "quick" else CLIENT_TIMEOUT * 2)
            writer.write(b"done\n")
            ended[name] = "finished"
        except asyncio.CancelledError:
            ended[name] = "cancelled"
            raise

    async def scenario() -> None:
        server = TcpServer("test", handler)
        port = await server.start("127.0.0.1", 0)
        clients = [asyncio.create_task(talk(port, name)) for name in (b"quick\n", b"slow\n")]
        await asyncio.wait_for(both_in.wait(), CLIENT_TIMEOUT)
        started = time.monotonic()
        await server.close(grace_seconds=0.5)
        elapsed = time.monotonic() - started
        assert 0.5 <= elapsed < 2.0
        assert server.active_connections == 0
        assert await asyncio.gather(*clients) == [b"done\n", b""]

    with caplog.at_level(logging.ERROR):
        run(scenario)
    assert ended == {"quick": "finished", "slow": "cancelled"}
    assert caplog.records == []  # a cancelled handler is how close ends it, not an error


def test_close_without_grace_cancels_at_once() -> None:
    connected = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        await reader.read()  # until the client closes, which it never does

    async def scenario() -> None:
        server = TcpServer("test", handler)
        port = await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await asyncio.wait_for(connected.wait(), CLIENT_TIMEOUT)
            started = time.monotonic()
            await server.close()
            assert time.monotonic() - started < 1.0
            assert await asyncio.wait_for(reader.read(), CLIENT_TIMEOUT) == b""
        finally:
            writer.close()

    run(scenario)


def test_the_server_can_listen_again_after_close() -> None:
    async def scenario() -> None:
        server = TcpServer("test", echo_line)
        await server.start("127.0.0.1", 0)
        await server.close()
        port = await server.start("127.0.0.1", 0)
        try:
            assert await talk(port, b"again\n") == b"again\n"
        finally:
            await server.close()

    run(scenario)


def test_a_port_in_use_raises_and_leaves_the_server_closed() -> None:
    async def scenario() -> None:
        first = TcpServer("first", echo_line)
        port = await first.start("127.0.0.1", 0)
        second = TcpServer("second", echo_line)
        try:
            with pytest.raises(OSError, match="in use"):
                await second.start("127.0.0.1", port)
            assert not second.listening
        finally:
            await first.close()

    run(scenario)

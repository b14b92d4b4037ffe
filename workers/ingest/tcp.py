"""The lifecycle the worker's listeners share (the health endpoint and RTMP ingest):
`asyncio.start_server`, one task per connection, tracked so that `close()` can end them."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

# Serves one connection; its writer is closed (aborted if data is stuck in it) once it returns.
ConnectionHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class TcpServer:
    """Runs `handler` for each connection, each in its own task; a handler that raises ends its
    connection only (logged), and cancellation is how `close()` ends one."""

    def __init__(self, name: str, handler: ConnectionHandler) -> None:
        self.name = name
        self._handler = handler
        self._server: asyncio.Server | None = None
        self._accepting = False
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        """Listen on `host:port` and return the bound port (`port=0` picks a free one)."""
        if self._server is not None:
            raise RuntimeError(f"the {self.name} server is already listening")
        self._accepting = True
        try:
            self._server = await asyncio.start_server(self._serve, host, port)
        except BaseException:
            self._accepting = False
            raise
        return self.port

    @property
    def listening(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError(f"the {self.name} server is not listening")
        # With a host name that resolves to several addresses, the first socket's port is reported.
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def active_connections(self) -> int:
        return len(self._connections)

    async def close(self, grace_seconds: float = 0.0) -> None:
        """Stop listening; connections in progress get up to `grace_seconds` to end on their own,
        then are cancelled, and awaited (their handlers' own cleanup included)."""
        if self._server is None:
            return
        server, self._server = self._server, None
        self._accepting = False
        server.close()
        connections = set(self._connections)
        if connections and grace_seconds > 0:
            await asyncio.wait(connections, timeout=grace_seconds)
        for task in connections:
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
        await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._accepting:
            writer.close()  # accepted just before `close()`: do not hold the shutdown up
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._handler(reader, writer)
        except asyncio.CancelledError:
            # `close()` ends the connection. Returning instead of re-raising: the stream
            # machinery of Python 3.11 logs a cancelled handler as an error.
            pass
        except Exception:
            logger.exception("%s connection failed", self.name, extra={"server": self.name})
        finally:
            self._connections.discard(task)
            if not writer.is_closing():
                if writer.transport.get_write_buffer_size():
                    # A graceful close would wait for data a stalled client may never read.
                    writer.transport.abort()
                else:
                    writer.close()

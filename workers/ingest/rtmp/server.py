"""The RTMP listener: accepts connections, bounds them per client address and, until they publish,
across all addresses; shares one memory budget among them; ends them on close."""

import asyncio
import logging
import time
from collections import Counter
from types import TracebackType

from workers.ingest.rtmp.connection import RtmpConnection
from workers.ingest.rtmp.limits import MemoryBudget, RtmpLimits
from workers.ingest.rtmp.publish import PublishAuthorizer

logger = logging.getLogger(__name__)

DEFAULT_PORT = 1935


class RtmpServer:
    """A publish-only RTMP server on `asyncio.start_server`.

    Each connection runs in its own task; a failure in one (malformed input, a timeout, a
    session callback raising) ends that connection only.
    """

    def __init__(self, authorizer: PublishAuthorizer, limits: RtmpLimits | None = None) -> None:
        self._authorizer = authorizer
        self.limits = RtmpLimits() if limits is None else limits
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], RtmpConnection] = {}
        self._per_address: Counter[str] = Counter()
        self._origin = time.monotonic()
        self.memory = MemoryBudget(self.limits.memory_budget_bytes)

    async def start(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        """Listen on `host:port` (0 picks a free port: read it back from `.port`)."""
        if self._server is not None:
            raise RuntimeError("the RTMP server is already listening")
        self._server = await asyncio.start_server(self._accept, host, port)
        logger.info("rtmp listening", extra={"host": host, "port": self.port})

    @property
    def listening(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the RTMP server is not listening")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def active_connections(self) -> int:
        return len(self._connections)

    @property
    def active_publishes(self) -> int:
        return sum(connection.publishing for connection in self._connections.values())

    @property
    def pending_connections(self) -> int:
        """Connections that have not had a publish accepted (yet)."""
        return sum(connection.pre_publish for connection in self._connections.values())

    async def close(self) -> None:
        """Stop accepting, end every connection (publishes end with "server-closed"), wait for them."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> "RtmpServer":
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None:
            writer.close()  # accepted just before `close()`
            return
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        client = f"{address}:{peer[1]}" if isinstance(peer, tuple) and len(peer) > 1 else address
        if self._per_address[address] >= self.limits.max_connections_per_address:
            logger.warning(
                "rtmp connection refused: too many from this address",
                extra={"client": client, "limit": self.limits.max_connections_per_address},
            )
            writer.close()
            return
        # Publishers do not count: a flood of clients without a key cannot cut a broadcast off,
        # and each of them holds its place for the publish timeout at most. Counted only when all
        # connections together could reach the cap: a flood below it costs no O(n) per accept.
        cap = self.limits.max_pending_connections
        if len(self._connections) >= cap and self.pending_connections >= cap:
            logger.warning(
                "rtmp connection refused: too many connections waiting to publish",
                extra={"client": client, "limit": self.limits.max_pending_connections},
            )
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        connection = RtmpConnection(reader, writer, self._authorizer, self.limits, client, self._origin, self.memory)
        self._per_address[address] += 1
        self._connections[task] = connection
        try:
            await connection.run()
        finally:
            del self._connections[task]
            self._per_address[address] -= 1
            if not self._per_address[address]:
                del self._per_address[address]

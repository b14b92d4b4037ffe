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
from workers.ingest.tcp import TcpServer

logger = logging.getLogger(__name__)

DEFAULT_PORT = 1935


class RtmpServer:
    """A publish-only RTMP server on a `TcpServer`.

    Each connection runs in its own task; a failure in one (malformed input, a timeout, a
    session callback raising) ends that connection only.
    """

    def __init__(self, authorizer: PublishAuthorizer, limits: RtmpLimits | None = None) -> None:
        self._authorizer = authorizer
        self.limits = RtmpLimits() if limits is None else limits
        self._tcp = TcpServer("rtmp", self._accept)
        self._connections: dict[asyncio.Task[None], RtmpConnection] = {}
        self._per_address: Counter[str] = Counter()
        self._origin = time.monotonic()
        self.memory = MemoryBudget(self.limits.memory_budget_bytes)

    async def start(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> int:
        """Listen on `host:port` and return the bound port (0 picks a free one)."""
        bound = await self._tcp.start(host, port)
        logger.info("rtmp listening", extra={"host": host, "port": bound})
        return bound

    @property
    def listening(self) -> bool:
        return self._tcp.listening

    @property
    def port(self) -> int:
        return self._tcp.port

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

    async def close(self, grace_seconds: float = 0.0) -> None:
        """Stop accepting and end every connection (publishes end with "server-closed"), after
        `grace_seconds` at most; wait for them."""
        await self._tcp.close(grace_seconds)

    async def __aenter__(self) -> "RtmpServer":
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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

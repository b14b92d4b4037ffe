"""The server side of the RTMP handshake (spec section 5.2), the simple scheme.

C0+C1 in, S0+S1+S2 out, C2 in. Clients that try the digest ("complex", Flash Player 9+)
handshake put a non-zero version in C1 and a digest in its random part; they get the simple
answer too: S1 with a zero version field, and S2 a copy of C1 -- what nginx-rtmp answers
clients without a Flash digest, what librtmp (OBS) compares S2 against, and what FFmpeg accepts
when publishing (it only validates the server's digest when playing). C2 is read, not checked:
digest clients answer S1 differently, and checking buys nothing against a peer that can simply
echo.
"""

import asyncio
import os
import time
from typing import Final

from workers.ingest.rtmp.errors import HandshakeError

RTMP_VERSION: Final = 3  # plain RTMP; 6 and 8 are RTMPE (encrypted), which is not served
HANDSHAKE_SIZE: Final = 1536
_TIME_SIZE: Final = 4
_ZERO_SIZE: Final = 4


def check_c0(c0: int) -> None:
    if c0 != RTMP_VERSION:
        raise HandshakeError(f"RTMP version {c0} requested, only {RTMP_VERSION} is served")


def make_s0_s1(uptime_ms: int, random: bytes) -> bytes:
    """S0 (the version) and S1: our time, four zero bytes (the simple scheme), random bytes."""
    if len(random) != HANDSHAKE_SIZE - _TIME_SIZE - _ZERO_SIZE:
        raise ValueError("S1 random part has the wrong size")
    return bytes((RTMP_VERSION,)) + (uptime_ms & 0xFFFFFFFF).to_bytes(4, "big") + bytes(_ZERO_SIZE) + random


def make_s2(c1: bytes) -> bytes:
    """S2: C1 echoed as received (nginx-rtmp's answer to non-Flash clients)."""
    if len(c1) != HANDSHAKE_SIZE:
        raise ValueError("C1 has the wrong size")
    return bytes(c1)


async def accept_handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, uptime_ms: int) -> int:
    """Run the server side of the handshake; returns the bytes read. The caller bounds the time.

    Raises `HandshakeError` for a version we do not serve and `asyncio.IncompleteReadError` when
    the client closes the connection before the handshake is complete.
    """
    c0 = await reader.readexactly(1)
    check_c0(c0[0])
    c1 = await reader.readexactly(HANDSHAKE_SIZE)
    writer.write(make_s0_s1(uptime_ms, os.urandom(HANDSHAKE_SIZE - _TIME_SIZE - _ZERO_SIZE)) + make_s2(c1))
    await writer.drain()
    await reader.readexactly(HANDSHAKE_SIZE)  # C2
    return 1 + 2 * HANDSHAKE_SIZE


def uptime_ms(origin: float) -> int:
    """Milliseconds since `origin` (a `time.monotonic()` reading): the epoch field of S1."""
    return int((time.monotonic() - origin) * 1000)

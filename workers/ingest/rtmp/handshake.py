"""The server side of the RTMP handshake (spec section 5.2), the simple scheme, sans-IO.

C0+C1 in, S0+S1+S2 out, C2 in. Clients that try the digest ("complex", Flash Player 9+)
handshake put a non-zero version in C1 and a digest in its random part; they get the simple
answer too: S1 with a zero version field, and S2 a copy of C1 -- what nginx-rtmp answers
clients without a Flash digest, what librtmp (OBS) compares S2 against, and what FFmpeg accepts
when publishing (it only validates the server's digest when playing). C2 is read, not checked:
digest clients answer S1 differently, checking buys nothing against a peer that can simply echo,
and it lets recorded client bytes be replayed against a new S1.

Pure: S1's time and random part are given, so that the caller owns the clock and the entropy.
"""

from typing import Final

from workers.ingest.rtmp.errors import HandshakeError

RTMP_VERSION: Final = 3  # plain RTMP; 6 and 8 are RTMPE (encrypted), which is not served
HANDSHAKE_SIZE: Final = 1536
_TIME_SIZE: Final = 4
_ZERO_SIZE: Final = 4
RANDOM_SIZE: Final = HANDSHAKE_SIZE - _TIME_SIZE - _ZERO_SIZE  # S1's random part


def check_c0(c0: int) -> None:
    if c0 != RTMP_VERSION:
        raise HandshakeError(f"RTMP version {c0} requested, only {RTMP_VERSION} is served")


def make_s0_s1(uptime_ms: int, random: bytes) -> bytes:
    """S0 (the version) and S1: our time, four zero bytes (the simple scheme), random bytes."""
    if len(random) != RANDOM_SIZE:
        raise ValueError("S1 random part has the wrong size")
    return bytes((RTMP_VERSION,)) + (uptime_ms & 0xFFFFFFFF).to_bytes(4, "big") + bytes(_ZERO_SIZE) + random


def make_s2(c1: bytes) -> bytes:
    """S2: C1 echoed as received (nginx-rtmp's answer to non-Flash clients)."""
    if len(c1) != HANDSHAKE_SIZE:
        raise ValueError("C1 has the wrong size")
    return bytes(c1)


class ServerHandshake:
    """Feed it the client's first bytes; it answers S0+S1+S2 once C1 is in, and is complete after C2.

    `receive_data` returns (bytes to send, bytes that followed C2): a client may send its first
    chunks right behind C2, in the same segment. Raises `HandshakeError` on the first byte if it
    asks for a version we do not serve, before anything is answered.
    """

    def __init__(self, uptime_ms: int, random: bytes) -> None:
        self._s0_s1 = make_s0_s1(uptime_ms, random)
        self._buffer = bytearray()
        self._answered = False
        self.complete = False

    def receive_data(self, data: bytes) -> tuple[bytes, bytes]:
        if self.complete:
            raise RuntimeError("the handshake is over")
        self._buffer += data
        if not self._buffer:
            return b"", b""
        check_c0(self._buffer[0])
        answer = b""
        c1_end = 1 + HANDSHAKE_SIZE
        if not self._answered and len(self._buffer) >= c1_end:
            self._answered = True
            answer = self._s0_s1 + make_s2(bytes(self._buffer[1:c1_end]))
        c2_end = c1_end + HANDSHAKE_SIZE
        if len(self._buffer) < c2_end:
            return answer, b""
        self.complete = True
        rest = bytes(self._buffer[c2_end:])
        self._buffer.clear()
        return answer, rest

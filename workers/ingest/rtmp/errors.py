"""What the RTMP layers raise on input they refuse; the connection handler closes on any of them."""


class RtmpError(ValueError):
    """Base of every refusal of peer input: malformed bytes, a broken rule, a limit exceeded."""


class ProtocolError(RtmpError):
    """The peer broke the RTMP protocol (chunk stream, message or command level)."""


class HandshakeError(ProtocolError):
    """C0/C1/C2 were not an RTMP handshake we take."""


class AmfError(ProtocolError):
    """A value that is not valid (or not supported) AMF0: truncated, unknown marker, bad UTF-8."""


class LimitExceeded(ProtocolError):
    """Valid RTMP, but beyond what this server accepts (message size, chunk streams, ...)."""

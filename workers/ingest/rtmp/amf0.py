"""AMF0, the encoding of RTMP commands and of stream metadata.

Reference: Adobe, "Action Message Format -- AMF 0" (2007). Supported: number, boolean, string,
object, null, undefined, ECMA array, object end (as the terminator of objects and ECMA arrays),
strict array, date and long string. Decoding is strict: a value cut short, a marker outside that
list (movieclip, reference, typed object, AVM+ switch, ...), invalid UTF-8, an object without its
end marker or nesting deeper than `MAX_DEPTH` raises `AmfError`, so a malformed command closes
its connection instead of being half-understood.

Decoding is bounded in work, not only in depth: every value decoded (an object's property
values and an array's items included) spends one unit of a `ValueBudget`, `MAX_VALUES` per
message unless the caller shares a smaller one (the RTMP session's, before `publish`); running
out raises `LimitExceeded`. Without it, 1 MiB of empty objects is 260,000 values and 0.6 s of
one event loop.
"""

import math
import struct
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Final, TypeAlias, Union

from workers.ingest.rtmp.errors import AmfError, LimitExceeded

# Commands and metadata nest two or three levels; the bound keeps hostile input off the C stack.
MAX_DEPTH: Final = 32
# Values one message may decode to. A command has about ten, onMetaData a few dozen; 4096
# cost about 10 ms of CPU in the worst shape (empty objects), 1 MiB of them 0.6 s.
MAX_VALUES: Final = 4096

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND: Final = timedelta(milliseconds=1)
_U16_MAX: Final = 0xFFFF
_U32_MAX: Final = 0xFFFFFFFF


class Marker(IntEnum):
    """AMF0 type markers (AMF0 spec, section 2.1)."""

    NUMBER = 0x00
    BOOLEAN = 0x01
    STRING = 0x02
    OBJECT = 0x03
    MOVIECLIP = 0x04
    NULL = 0x05
    UNDEFINED = 0x06
    REFERENCE = 0x07
    ECMA_ARRAY = 0x08
    OBJECT_END = 0x09
    STRICT_ARRAY = 0x0A
    DATE = 0x0B
    LONG_STRING = 0x0C
    UNSUPPORTED = 0x0D
    RECORDSET = 0x0E
    XML_DOCUMENT = 0x0F
    TYPED_OBJECT = 0x10
    AVMPLUS_OBJECT = 0x11


class Undefined:
    """The AMF0 `undefined` value, distinct from `null` (None); use the `UNDEFINED` singleton."""

    _instance: "Undefined | None" = None

    def __new__(cls) -> "Undefined":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = Undefined()


class EcmaArray(dict[str, "AmfValue"]):
    """An associative array (marker 0x08), the form `onMetaData` usually takes.

    A plain `dict` encodes as an anonymous object (marker 0x03); both decode to mappings.
    """


# Numbers decode as float (AMF0 has only IEEE 754 doubles); ints are accepted when encoding.
AmfValue: TypeAlias = Union[float, int, bool, str, Undefined, datetime, "dict[str, AmfValue]", "list[AmfValue]", None]


class ValueBudget:
    """How many more values may be decoded; one budget may span several messages."""

    __slots__ = ("left", "total")

    def __init__(self, values: int = MAX_VALUES) -> None:
        if values < 0:
            raise ValueError("a value budget cannot be negative")
        self.total = values
        self.left = values

    def spend(self) -> None:
        if self.left <= 0:
            raise LimitExceeded(f"more than {self.total} AMF0 values to decode")
        self.left -= 1


class Decoder:
    """Reads AMF0 values one after the other from `data`, spending `budget` (a fresh `MAX_VALUES`
    unless given)."""

    def __init__(self, data: bytes, max_depth: int = MAX_DEPTH, budget: ValueBudget | None = None) -> None:
        self._data = data
        self._position = 0
        self._max_depth = max_depth
        self._budget = ValueBudget() if budget is None else budget

    @property
    def remaining(self) -> int:
        return len(self._data) - self._position

    def at_end(self) -> bool:
        return self._position >= len(self._data)

    def read(self) -> AmfValue:
        """The next value; `AmfError` when there is none or it is malformed."""
        return self._value(0)

    def _take(self, size: int, what: str) -> bytes:
        end = self._position + size
        if end > len(self._data):
            raise AmfError(f"truncated AMF0 {what}: {size} bytes needed, {self.remaining} left")
        chunk = self._data[self._position : end]
        self._position = end
        return chunk

    def _u8(self, what: str) -> int:
        return self._take(1, what)[0]

    def _u16(self, what: str) -> int:
        return int.from_bytes(self._take(2, what), "big")

    def _u32(self, what: str) -> int:
        return int.from_bytes(self._take(4, what), "big")

    def _utf8(self, size: int, what: str) -> str:
        raw = self._take(size, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AmfError(f"AMF0 {what} is not valid UTF-8") from exc

    def _value(self, depth: int) -> AmfValue:
        if depth > self._max_depth:
            raise AmfError(f"AMF0 values nested deeper than {self._max_depth} levels")
        self._budget.spend()
        marker = self._u8("type marker")
        if marker == Marker.NUMBER:
            number: float = struct.unpack(">d", self._take(8, "number"))[0]
            return number
        if marker == Marker.BOOLEAN:
            return self._u8("boolean") != 0
        if marker == Marker.STRING:
            return self._utf8(self._u16("string length"), "string")
        if marker == Marker.LONG_STRING:
            return self._utf8(self._u32("long string length"), "long string")
        if marker == Marker.NULL:
            return None
        if marker == Marker.UNDEFINED:
            return UNDEFINED
        if marker == Marker.OBJECT:
            return self._properties(dict(), depth)
        if marker == Marker.ECMA_ARRAY:
            # The count is only a hint (AMF0 spec 2.10): the end marker terminates the array.
            self._u32("ECMA array count")
            return self._properties(EcmaArray(), depth)
        if marker == Marker.STRICT_ARRAY:
            count = self._u32("strict array count")
            # Every value takes at least its marker byte: a larger count is a lie, refused
            # before looping on it.
            if count > self.remaining:
                raise AmfError(f"truncated AMF0 strict array: {count} values announced, {self.remaining} bytes left")
            return [self._value(depth + 1) for _ in range(count)]
        if marker == Marker.DATE:
            milliseconds: float = struct.unpack(">d", self._take(8, "date"))[0]
            self._take(2, "date time zone")  # reserved, "should be 0x0000" (AMF0 spec 2.13)
            try:
                return _EPOCH + milliseconds * _MILLISECOND
            except (OverflowError, ValueError) as exc:
                raise AmfError(f"AMF0 date out of range: {milliseconds!r}") from exc
        if marker == Marker.OBJECT_END:
            raise AmfError("AMF0 object end marker outside an object")
        try:
            name = Marker(marker).name
        except ValueError:
            raise AmfError(f"unknown AMF0 type marker 0x{marker:02x}") from None
        raise AmfError(f"unsupported AMF0 type {name} (0x{marker:02x})")

    def _properties(self, target: dict[str, AmfValue], depth: int) -> dict[str, AmfValue]:
        while True:
            key = self._utf8(self._u16("property name length"), "property name")
            if not key:
                # An empty name is only valid as the first half of the end sequence 00 00 09.
                if self._u8("object end marker") != Marker.OBJECT_END:
                    raise AmfError("AMF0 property with an empty name")
                return target
            target[key] = self._value(depth + 1)


def decode(data: bytes, budget: ValueBudget | None = None) -> AmfValue:
    """Exactly one value filling `data`."""
    decoder = Decoder(data, budget=budget)
    value = decoder.read()
    if not decoder.at_end():
        raise AmfError(f"{decoder.remaining} bytes after the AMF0 value")
    return value


def decode_all(data: bytes, budget: ValueBudget | None = None) -> list[AmfValue]:
    """Every value in `data`, in order (a command: name, transaction id, object, arguments)."""
    decoder = Decoder(data, budget=budget)
    values: list[AmfValue] = []
    while not decoder.at_end():
        values.append(decoder.read())
    return values


def encode(*values: AmfValue) -> bytes:
    """`values` one after the other; `TypeError`/`ValueError` for what AMF0 cannot carry."""
    out = bytearray()
    for value in values:
        _encode(value, out, 0)
    return bytes(out)


def _encode_utf8(text: str, out: bytearray, what: str) -> None:
    raw = text.encode("utf-8")
    if len(raw) > _U16_MAX:
        raise ValueError(f"AMF0 {what} longer than {_U16_MAX} bytes")
    out += len(raw).to_bytes(2, "big")
    out += raw


def _encode(value: AmfValue, out: bytearray, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"AMF0 values nested deeper than {MAX_DEPTH} levels")
    # bool before int: True is an int in Python.
    if isinstance(value, bool):
        out += bytes((Marker.BOOLEAN, value))
    elif isinstance(value, int | float):
        out.append(Marker.NUMBER)
        out += struct.pack(">d", float(value))
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        if len(raw) <= _U16_MAX:
            out.append(Marker.STRING)
            out += len(raw).to_bytes(2, "big")
        elif len(raw) <= _U32_MAX:
            out.append(Marker.LONG_STRING)
            out += len(raw).to_bytes(4, "big")
        else:
            raise ValueError("string too long for AMF0")
        out += raw
    elif value is None:
        out.append(Marker.NULL)
    elif isinstance(value, Undefined):
        out.append(Marker.UNDEFINED)
    elif isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("AMF0 dates are UTC instants: give an aware datetime")
        milliseconds = (value - _EPOCH) / _MILLISECOND
        if not math.isfinite(milliseconds):
            raise ValueError("AMF0 date out of range")
        out.append(Marker.DATE)
        out += struct.pack(">dh", milliseconds, 0)
    elif isinstance(value, dict):
        if isinstance(value, EcmaArray):
            out.append(Marker.ECMA_ARRAY)
            out += len(value).to_bytes(4, "big")
        else:
            out.append(Marker.OBJECT)
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise ValueError("AMF0 property names are non-empty strings")
            _encode_utf8(key, out, "property name")
            _encode(item, out, depth + 1)
        out += b"\x00\x00" + bytes((Marker.OBJECT_END,))
    elif isinstance(value, list | tuple):
        out.append(Marker.STRICT_ARRAY)
        out += len(value).to_bytes(4, "big")
        for item in value:
            _encode(item, out, depth + 1)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as AMF0")

"""AMF0: byte-exact encodings from the spec, round trips, and strict refusal of malformed input."""

import math
import struct
from datetime import UTC, datetime, timedelta

import pytest

from workers.ingest.rtmp.amf0 import (
    MAX_DEPTH,
    MAX_VALUES,
    UNDEFINED,
    AmfValue,
    Decoder,
    EcmaArray,
    Undefined,
    ValueBudget,
    decode,
    decode_all,
    encode,
)
from workers.ingest.rtmp.errors import AmfError, LimitExceeded

# What FFmpeg sends as `connect` (libavformat/rtmpproto.c, gen_connect), abridged.
CONNECT = (
    b"\x02\x00\x07connect"
    + b"\x00" + struct.pack(">d", 1.0)
    + b"\x03"
    + b"\x00\x03app\x02\x00\x04live"
    + b"\x00\x04type\x02\x00\x0anonprivate"
    + b"\x00\x05tcUrl\x02\x00\x15rtmp://127.0.0.1/live"
    + b"\x00\x00\x09"
)  # fmt: skip


def test_decodes_a_connect_command_as_ffmpeg_sends_it() -> None:
    assert decode_all(CONNECT) == [
        "connect",
        1.0,
        {"app": "live", "type": "nonprivate", "tcUrl": "rtmp://127.0.0.1/live"},
    ]


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0.0, b"\x00" + bytes(8)),
        (1, b"\x00\x3f\xf0" + bytes(6)),
        (-2.5, b"\x00" + struct.pack(">d", -2.5)),
        (True, b"\x01\x01"),
        (False, b"\x01\x00"),
        ("", b"\x02\x00\x00"),
        ("onMetaData", b"\x02\x00\x0aonMetaData"),
        ("é", b"\x02\x00\x02\xc3\xa9"),
        (None, b"\x05"),
        (UNDEFINED, b"\x06"),
        ({"a": 1.0}, b"\x03\x00\x01a\x00" + struct.pack(">d", 1.0) + b"\x00\x00\x09"),
        ({}, b"\x03\x00\x00\x09"),
        (EcmaArray(a=True), b"\x08\x00\x00\x00\x01\x00\x01a\x01\x01\x00\x00\x09"),
        ([1.0, None], b"\x0a\x00\x00\x00\x02\x00" + struct.pack(">d", 1.0) + b"\x05"),
        (datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC), b"\x0b" + struct.pack(">d", 1000.0) + b"\x00\x00"),
    ],
)
def test_encodes_byte_exact_and_decodes_back(value: AmfValue, encoded: bytes) -> None:
    assert encode(value) == encoded
    assert decode(encoded) == value


def test_long_strings_switch_marker_above_65535_bytes() -> None:
    short, long = "x" * 0xFFFF, "x" * 0x10000
    assert encode(short)[:3] == b"\x02\xff\xff"
    assert encode(long)[:5] == b"\x0c\x00\x01\x00\x00"
    assert decode(encode(long)) == long
    assert decode(b"\x0c\x00\x00\x00\x02hi") == "hi"


def test_ecma_arrays_and_objects_keep_their_kind() -> None:
    metadata = EcmaArray(width=640.0, height=360.0, encoder="Lavf59", stereo=False, nested={"k": [1.0, "v"]})
    decoded = decode(encode(metadata))
    assert isinstance(decoded, EcmaArray)
    assert decoded == metadata
    assert type(decode(encode({"a": 1.0}))) is dict


def test_the_ecma_array_count_is_only_a_hint() -> None:
    # FMLE writes 0 as the count; the end marker is what terminates the array (AMF0 2.10).
    assert decode(b"\x08\x00\x00\x00\x00\x00\x01a\x05\x00\x01b\x06\x00\x00\x09") == {"a": None, "b": UNDEFINED}


def test_dates_decode_as_aware_utc_and_ignore_the_time_zone() -> None:
    instant = datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=UTC)
    decoded = decode(encode(instant))
    assert decoded == instant
    assert isinstance(decoded, datetime)
    assert decoded.utcoffset() == timedelta(0)
    assert decode(b"\x0b" + struct.pack(">d", 0.0) + b"\x01\xe0") == datetime(1970, 1, 1, tzinfo=UTC)


def test_undefined_is_a_singleton_distinct_from_null() -> None:
    assert Undefined() is UNDEFINED
    assert decode(b"\x06") is UNDEFINED
    assert decode(b"\x05") is None


def test_decoder_reads_values_in_sequence() -> None:
    decoder = Decoder(encode("a", 2.0) + b"\x05")
    assert decoder.read() == "a"
    assert decoder.read() == 2.0
    assert decoder.remaining == 1
    assert decoder.read() is None
    assert decoder.at_end()
    with pytest.raises(AmfError, match="truncated"):
        decoder.read()


def test_every_truncation_is_refused() -> None:
    complete = encode(
        EcmaArray(
            name="stream",
            rate=30.0,
            live=True,
            tags=["a", None, UNDEFINED],
            created=datetime(2024, 1, 1, tzinfo=UTC),
            inner={"empty": {}},
        )
    )
    for size in range(len(complete)):
        with pytest.raises(AmfError):
            decode(complete[:size])
    assert decode(complete)
    long_string = b"\x0c\x00\x00\x00\x03abc"
    for size in range(len(long_string)):
        with pytest.raises(AmfError, match="truncated"):
            decode(long_string[:size])


def test_an_object_without_its_end_marker_is_truncated() -> None:
    with pytest.raises(AmfError, match="truncated"):
        decode(b"\x03\x00\x01a\x05")


def test_an_empty_property_name_is_only_valid_before_the_end_marker() -> None:
    with pytest.raises(AmfError, match="empty name"):
        decode(b"\x03\x00\x00\x05")


@pytest.mark.parametrize(
    "marker",
    [0x04, 0x07, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0xFF],
    ids=["movieclip", "reference", "unsupported", "recordset", "xml", "typed", "avmplus", "0x12", "0xff"],
)
def test_unsupported_and_unknown_markers_are_refused(marker: int) -> None:
    with pytest.raises(AmfError, match="AMF0 type"):
        decode(bytes((marker,)) + bytes(16))


def test_a_bare_object_end_marker_is_refused() -> None:
    with pytest.raises(AmfError, match="outside an object"):
        decode(b"\x09")


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(AmfError, match="UTF-8"):
        decode(b"\x02\x00\x02\xc3\x28")
    with pytest.raises(AmfError, match="UTF-8"):
        decode(b"\x03\x00\x01\xff\x05\x00\x00\x09")


def test_a_strict_array_count_beyond_the_input_is_refused_without_looping() -> None:
    with pytest.raises(AmfError, match="strict array"):
        decode(b"\x0a\xff\xff\xff\xff\x05")


def test_a_long_string_length_beyond_the_input_is_refused() -> None:
    with pytest.raises(AmfError, match="truncated"):
        decode(b"\x0c\xff\xff\xff\xffabc")


def test_deep_nesting_is_refused_before_the_interpreter_stack_is() -> None:
    deep = b"\x0a\x00\x00\x00\x01" * 10_000 + b"\x05"
    with pytest.raises(AmfError, match="nested deeper"):
        decode(deep)
    shallow = b"\x0a\x00\x00\x00\x01" * MAX_DEPTH + b"\x05"
    assert decode(shallow)


@pytest.mark.parametrize("milliseconds", [math.nan, math.inf, 1e300])
def test_dates_out_of_range_are_refused(milliseconds: float) -> None:
    with pytest.raises(AmfError, match="date"):
        decode(b"\x0b" + struct.pack(">d", milliseconds) + b"\x00\x00")


def test_trailing_bytes_after_a_single_value_are_refused() -> None:
    with pytest.raises(AmfError, match="after the AMF0 value"):
        decode(b"\x05\x05")


def test_encoding_refuses_what_amf0_cannot_carry() -> None:
    with pytest.raises(ValueError, match="aware"):
        encode(datetime(2024, 1, 1))  # naive: the point of the test
    with pytest.raises(ValueError, match="property name"):
        encode({"k" * 0x10000: None})
    with pytest.raises(ValueError, match="non-empty"):
        encode({"": None})
    with pytest.raises(TypeError, match="bytes"):
        encode(b"raw")  # type: ignore[arg-type]


# Decode work: a budget of values, not only of depth


def test_a_message_decodes_to_at_most_max_values_values() -> None:
    nulls = b"\x05" * MAX_VALUES
    assert len(decode_all(nulls)) == MAX_VALUES
    with pytest.raises(LimitExceeded, match=f"more than {MAX_VALUES} AMF0 values"):
        decode_all(nulls + b"\x05")


def test_nested_values_count_against_the_budget() -> None:
    # 1 MiB of empty objects was 262,144 values and 0.6 s of CPU; each object is one value, and
    # so is each property value and array item inside one.
    with pytest.raises(LimitExceeded, match="AMF0 values"):
        decode_all(b"\x03\x00\x00\x09" * 262_144)
    flat: dict[str, AmfValue] = {f"k{index}": None for index in range(MAX_VALUES - 1)}
    assert decode(encode(flat)) == flat  # the object and its MAX_VALUES - 1 properties
    with pytest.raises(LimitExceeded):
        decode(encode(flat | {"one more": None}))
    with pytest.raises(LimitExceeded):
        decode(encode([[None] * 100] * (MAX_VALUES // 100 + 1)))  # 41 arrays of 100


def test_a_shared_budget_spans_messages() -> None:
    budget = ValueBudget(5)
    assert decode_all(encode("connect", 1.0, None), budget) == ["connect", 1.0, None]
    assert budget.left == 2
    with pytest.raises(LimitExceeded, match="more than 5"):
        decode_all(encode("publish", 2.0, None), budget)

"""The rules of `PATCH /users/me`, as `ProfilePatch` enforces them while parsing."""

from typing import Any

import pytest
from pydantic import ValidationError

from letslive.models.users import AVATAR_URL_MAX, BIO_MAX, DISPLAY_NAME_MAX, ProfilePatch


def parse(**fields: Any) -> ProfilePatch:
    return ProfilePatch.model_validate(fields)


def refused(**fields: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        parse(**fields)
    return str(caught.value)


def test_only_the_fields_sent_are_set() -> None:
    assert parse().model_fields_set == set()
    assert parse(bio="hi").model_fields_set == {"bio"}
    patch = parse(avatar_url=None)
    assert patch.model_fields_set == {"avatar_url"}
    assert patch.avatar_url is None


def test_unknown_fields_are_refused() -> None:
    assert "followers_count" in refused(followers_count=10)
    refused(username="admin")
    refused(live=True)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("Alice", "Alice"),
        ("  Alice  ", "Alice"),
        ("x", "x"),
        ("é" * DISPLAY_NAME_MAX, "é" * DISPLAY_NAME_MAX),
        ("Cafe\u0301", "Café"),  # NFC: the combining accent does not count as a character
        ("🎮 gamer", "🎮 gamer"),
        ("👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"),  # ZWJ sequences are not control characters
    ],
)
def test_display_names_are_trimmed_and_kept(sent: str, stored: str) -> None:
    assert parse(display_name=sent).display_name == stored


@pytest.mark.parametrize(
    "sent",
    [
        "",
        "   ",
        "\t\n",
        "x" * (DISPLAY_NAME_MAX + 1),
        " " + "x" * (DISPLAY_NAME_MAX + 1) + " ",
        "x" * DISPLAY_NAME_MAX + " ",  # 40 once trimmed, but over the schema's maxLength as sent
        "a\x00b",
        "a\x1bb",  # ESC: terminal escape sequences
        "a\x7fb",
        "a\x85b",  # C1 control
        "two\nlines",
        "tab\there",
        "line\u2028sep",
        "\u202eevil",  # right-to-left override
        "\u2066isolate\u2069",
        "lone \ud800 surrogate",
        "not utf-8 \ufffd",  # what a gateway made of bytes that were not UTF-8
        None,
        42,
        ["Alice"],
    ],
)
def test_bad_display_names_are_refused(sent: object) -> None:
    refused(display_name=sent)


def test_a_bio_keeps_its_newlines_and_normalizes_line_endings() -> None:
    assert parse(bio="one\ntwo").bio == "one\ntwo"
    assert parse(bio="one\r\ntwo\rthree").bio == "one\ntwo\nthree"
    assert parse(bio="  padded \n").bio == "padded"
    assert parse(bio="").bio == ""
    assert parse(bio="b" * BIO_MAX).bio == "b" * BIO_MAX
    # The limit holds as sent (the request schema's maxLength): CRLF counts as two characters
    # there, and is stored as one.
    assert parse(bio="a\r\n" * (BIO_MAX // 3)).bio == ("a\n" * (BIO_MAX // 3)).strip()
    refused(bio="a\r\n" * (BIO_MAX // 2))


@pytest.mark.parametrize(
    "sent",
    ["b" * (BIO_MAX + 1), "bell\x07", "tab\there", "nul\x00", "esc\x1b[31m", "lone \udfff", "\ufffd", None, 1],
)
def test_bad_bios_are_refused(sent: object) -> None:
    refused(bio=sent)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("https://cdn.example.com/a.png", "https://cdn.example.com/a.png"),
        ("HTTPS://CDN.Example.com/a.png?s=64#x", "https://cdn.example.com/a.png?s=64#x"),
        ("https://example.com", "https://example.com/"),
        ("https://münchen.example/a.png", "https://xn--mnchen-3ya.example/a.png"),
        ("https://example.com:8443/a.png", "https://example.com:8443/a.png"),
    ],
)
def test_https_avatar_urls_are_accepted_in_normal_form(sent: str, stored: str) -> None:
    assert parse(avatar_url=sent).avatar_url == stored


def test_the_avatar_url_limit_is_inclusive() -> None:
    url = "https://example.com/" + "a" * (AVATAR_URL_MAX - len("https://example.com/"))
    assert parse(avatar_url=url).avatar_url == url
    refused(avatar_url=url + "a")


@pytest.mark.parametrize(
    "sent",
    [
        "http://example.com/a.png",
        "ftp://example.com/a.png",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "//example.com/a.png",
        "/a.png",
        "example.com/a.png",
        "https://",
        "not a url",
        "",
        "https://user:pw@example.com/a.png",
        "https://user@example.com/a.png",
        "https://example.com/a b.png",
        " https://example.com/a.png",
        "https://example.com/a.png\n",
        "https://example.com/\x00.png",
        "https://example.com/\t.png",
        "https://example.com/" + "a" * AVATAR_URL_MAX,
        # Short enough as sent, longer than the limit once percent-encoded.
        "https://example.com/" + "é" * (AVATAR_URL_MAX // 3),
        123,
    ],
)
def test_bad_avatar_urls_are_refused(sent: object) -> None:
    refused(avatar_url=sent)


def test_errors_do_not_echo_the_input_back() -> None:
    secret = "https://user:hunter2@example.com/a.png"
    with pytest.raises(ValidationError) as caught:
        parse(avatar_url=secret)
    messages = [error["msg"] for error in caught.value.errors()]
    assert not any("hunter2" in message for message in messages)

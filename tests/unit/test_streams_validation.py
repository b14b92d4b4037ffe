"""Channel settings, worker health reports, VOD rungs and media paths: what is accepted, what is refused."""

import os
from typing import Any

import pytest
from pydantic import ValidationError

from letslive.constants import ENV_INGEST_URL, ENV_MEDIA_BASE_URL, ENV_PREFIX
from letslive.errors import ChannelNotFound, InvalidInput
from letslive.models.handles import normalize_channel
from letslive.models.streams import ChannelPatch, StreamHealth, live_playlist_path
from letslive.models.vods import VodRung
from letslive.services.media_urls import media_path, media_url
from letslive.settings import Settings


def patch(**fields: Any) -> ChannelPatch:
    return ChannelPatch.model_validate(fields)


def test_only_the_fields_sent_are_set() -> None:
    assert patch(title="Hi").model_fields_set == {"title"}
    assert patch().model_fields_set == set()
    assert patch(category=None).model_fields_set == {"category"}


def test_the_title_is_trimmed_and_normalized() -> None:
    assert patch(title="  Speed run  ").title == "Speed run"
    assert patch(title="Cafe\u0301").title == "Café"  # NFC
    assert patch(title="é" * 140).title == "é" * 140


@pytest.mark.parametrize(
    "title",
    ["", "   ", "x" * 141, "two\nlines", "tab\there", "nul\x00", "\u202eevil", "\u2028", "\ud800", "not utf-8 \ufffd"],
)
def test_bad_titles_are_refused(title: str) -> None:
    with pytest.raises(ValidationError):
        patch(title=title)


@pytest.mark.parametrize("value", [None, 5, ["x"]])
def test_the_title_must_be_a_string(value: object) -> None:
    with pytest.raises(ValidationError):
        patch(title=value)


def test_an_empty_or_null_category_clears_it() -> None:
    assert patch(category="").category is None
    assert patch(category="   ").category is None
    assert patch(category=None).category is None
    assert patch(category=" Just Chatting ").category == "Just Chatting"
    assert patch(category="c" * 50).category == "c" * 50


@pytest.mark.parametrize("category", ["c" * 51, "a\nb", "\x1b[31m"])
def test_bad_categories_are_refused(category: str) -> None:
    with pytest.raises(ValidationError):
        patch(category=category)


def test_tags_are_kept_in_order_without_repeats() -> None:
    assert patch(tags=["speedrun", "PB", "Speedrun", "any-pct", "pb"]).tags == ["speedrun", "PB", "any-pct"]
    assert patch(tags=[]).tags == []
    assert patch(tags=["a" * 25] + [f"t{i}" for i in range(9)]).tags is not None


@pytest.mark.parametrize(
    "tags",
    [
        None,
        "speedrun",
        [f"t{i}" for i in range(11)],
        [""],
        ["a" * 26],
        ["with space"],
        ["under_score"],
        ["émoji"],
        ["kelvin\u212a"],
        [" padded"],
        [1],
    ],
)
def test_bad_tags_are_refused(tags: object) -> None:
    with pytest.raises(ValidationError):
        patch(tags=tags)


def test_eleven_tags_are_refused_even_if_repeats_would_leave_ten() -> None:
    with pytest.raises(ValidationError):
        patch(tags=["a"] * 11)


@pytest.mark.parametrize("field", ["key_hash", "live", "username", "viewer_count"])
def test_unknown_fields_are_refused(field: str) -> None:
    with pytest.raises(ValidationError):
        patch(**{field: "x"})


def test_health_reports_refuse_nonsense() -> None:
    assert StreamHealth().fps is None
    for bad in ({"fps": -1}, {"fps": float("nan")}, {"input_bitrate_kbps": float("inf")}, {"width": -5}, {"x": 1}):
        with pytest.raises(ValidationError):
            StreamHealth.model_validate(bad)


@pytest.mark.parametrize(
    "rung",
    [
        {"name": "", "height": 720, "bandwidth": 1},
        {"name": "../x", "height": 720, "bandwidth": 1},
        {"name": "720p", "height": -1, "bandwidth": 1},
        {"name": "720p", "height": 720, "bandwidth": 0},
        {"name": "720p", "height": 720, "bandwidth": 1, "codecs": "avc1"},
    ],
)
def test_bad_vod_rungs_are_refused(rung: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        VodRung.model_validate(rung)


def test_media_paths_are_relative_to_the_media_prefix() -> None:
    assert media_path("broadcasts/abc/vod.m3u8") == "broadcasts/abc/vod.m3u8"
    assert media_path("hls/broadcasts/abc/thumb.jpg") == "broadcasts/abc/thumb.jpg"


@pytest.mark.parametrize(
    "path", ["", "/abs", "a//b", "a/../b", "./a", "a/", "https://x.example/a", "a b", "a?b", "a\\b", "é"]
)
def test_bad_media_paths_are_refused(path: str) -> None:
    with pytest.raises(InvalidInput):
        media_path(path)


def test_media_urls() -> None:
    assert (
        media_url("https://cdn.example/hls", "broadcasts/a/master.m3u8")
        == "https://cdn.example/hls/broadcasts/a/master.m3u8"
    )
    assert media_url("https://cdn.example/hls/", "x.jpg") == "https://cdn.example/hls/x.jpg"
    # In AWS the page and the media share the CloudFront origin: a root-relative base.
    assert media_url("/hls", "broadcasts/a/master.m3u8") == "/hls/broadcasts/a/master.m3u8"
    assert media_url(None, "x.jpg") == "x.jpg"
    assert media_url("", "x.jpg") == "x.jpg"
    assert live_playlist_path("abc") == "broadcasts/abc/master.m3u8"


def test_channel_names_follow_the_handle_rule() -> None:
    assert normalize_channel("Alice_01") == "alice_01"
    for bad in ("ab", "a" * 26, "al-ice", "al ice", "\u212aevin", "alice\x00", ""):
        with pytest.raises(ChannelNotFound):
            normalize_channel(bad)


# --- settings --------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


def test_stream_settings_defaults(clean_env: None) -> None:
    settings = Settings()
    assert settings.media_base_url is None
    assert settings.ingest_url == "rtmp://127.0.0.1:1935/live"
    assert settings.reconnect_grace_seconds == 10
    assert settings.live_stale_seconds == 30
    assert settings.vod_retention_days == 30


def test_stream_settings_from_the_environment(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_MEDIA_BASE_URL, "https://d123.cloudfront.net/hls")
    monkeypatch.setenv(ENV_INGEST_URL, "rtmp://ingest.example.net/live")
    monkeypatch.setenv(f"{ENV_PREFIX}RECONNECT_GRACE_SECONDS", "15")
    monkeypatch.setenv(f"{ENV_PREFIX}VOD_RETENTION_DAYS", "7")
    settings = Settings()
    assert settings.media_base_url == "https://d123.cloudfront.net/hls"
    assert settings.ingest_url == "rtmp://ingest.example.net/live"
    assert settings.reconnect_grace_seconds == 15
    assert settings.vod_retention_days == 7


@pytest.mark.parametrize(
    ("name", "value"), [("VOD_RETENTION_DAYS", "0"), ("RECONNECT_GRACE_SECONDS", "-1"), ("LIVE_STALE_SECONDS", "1")]
)
def test_invalid_stream_settings_are_refused(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"{ENV_PREFIX}{name}", value)
    with pytest.raises(ValidationError):
        Settings()

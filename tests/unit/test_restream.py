"""Restream's pure parts: destination URLs and addresses, what FFmpeg is asked to do, what a
status may say (never the key), and how a live broadcast follows the streamer's changes."""

import asyncio
from typing import cast

import pytest

from letslive.models.restream import ForwardTarget, check_destination_url, key_hint, private_address, valid_key
from workers.ingest.restream import Restream, _reason, follow_targets, forward_args


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("rtmp://live.twitch.tv/app", "rtmp://live.twitch.tv/app"),
        ("rtmps://a.rtmps.youtube.com:443/live2/", "rtmps://a.rtmps.youtube.com:443/live2"),
        ("RTMP://example.net:1935/live/sub", "RTMP://example.net:1935/live/sub"),
    ],
)
def test_destination_urls_are_rtmp_servers_with_an_application(url: str, kept: str) -> None:
    assert check_destination_url(url) == kept


@pytest.mark.parametrize(
    "url",
    [
        "http://live.twitch.tv/app",
        "rtmp://live.twitch.tv",
        "rtmp://live.twitch.tv/",
        "rtmp://u:p@live.twitch.tv/app",
        "rtmp://live.twitch.tv/app?x=1",
        "rtmp://live.twitch.tv/app#x",
        "rtmp://live.twitch.tv:0/app",
        "rtmp://live.twitch.tv:70000/app",
        "rtmp:///app",
        "rtmp://live.twitch.tv/a pp",
        "rtmp://[::1]/app",
        "rtmps://[0B5f800.BBd290C5C00D.]:65531/x",
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        check_destination_url(url)


@pytest.mark.parametrize(
    ("host", "private"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("169.254.169.254", True),
        ("[::1]", True),
        ("fd00::1", True),
        ("0.0.0.0", True),
        ("8.8.8.8", False),
        ("2001:4860:4860::8888", False),
        ("live.twitch.tv", False),  # a name: resolved and checked by the worker before connecting
    ],
)
def test_private_addresses(host: str, private: bool) -> None:
    assert private_address(host) is private


def test_keys_are_masked_and_kept_out_of_reprs() -> None:
    assert key_hint("live_123_abcdef") == "••••cdef"
    target = ForwardTarget("0123456789ab", "Twitch", "rtmp://live.twitch.tv/app", "live_123_abcdef")
    assert target.publish_url == "rtmp://live.twitch.tv/app/live_123_abcdef"
    assert "live_123_abcdef" not in repr(target)
    assert valid_key("live_123-ab.c=~")
    assert not valid_key("a b")
    assert not valid_key("a/b")


def test_ffmpeg_copies_the_source_to_the_destination_with_a_write_timeout() -> None:
    args = forward_args("ffmpeg", "rtmp://host/app/key")
    assert args[0] == "ffmpeg"
    assert args[-1] == "rtmp://host/app/key"
    assert args[args.index("-c") + 1] == "copy"
    assert args[args.index("-i") + 1] == "pipe:0"
    assert int(args[args.index("-rw_timeout") + 1]) > 0
    assert args[-3:-1] == ["-f", "flv"]
    assert "-tls_verify" not in args  # plain RTMP has no certificate
    rtmps = forward_args("ffmpeg", "rtmps://host/app/key")
    assert rtmps[rtmps.index("-tls_verify") + 1] == "1"
    assert "-tls_verify" not in forward_args("ffmpeg", "rtmps://host/app/key", verify_tls=False)


@pytest.mark.parametrize(
    ("stderr", "reason"),
    [
        (
            [
                "[tcp @ 0x1] Connection to tcp://127.0.0.1:9?tcp_nodelay=0 failed: Connection refused",
                "rtmp://127.0.0.1:9/live/secret-key: Connection refused",
            ],
            "Connection refused",
        ),
        (["rtmp://host/live/secret-key: Input/output error"], "Input/output error"),
        (["av_interleaved_write_frame(): Connection timed out"], "av_interleaved_write_frame(): Connection timed out"),
        (["Error closing file rtmps://host/app/secret-key: Input/output error"], "Input/output error"),
        ([], "the connection ended (ffmpeg exited with 1)"),
        (
            [
                "[tls @ 0x55] Peer certificate failed verification",
                "[rtmps @ 0x56] Cannot open connection tls://127.0.0.1:36179",
                "rtmps://127.0.0.1:36179/live/secret-key: Input/output error",
            ],
            "Peer certificate failed verification",
        ),
        (["rtmp://host/live/secret-key"], "the connection ended (ffmpeg exited with 1)"),
    ],
)
def test_a_status_says_what_ffmpeg_said_without_the_url(stderr: list[str], reason: str) -> None:
    said = _reason(stderr, 1)
    assert said == reason
    assert "secret-key" not in said


class _Updates:
    """Stands in for `Restream` (which starts FFmpegs): the lists it is told to forward to."""

    def __init__(self) -> None:
        self.seen: list[list[ForwardTarget]] = []

    def update(self, targets: list[ForwardTarget]) -> None:
        self.seen.append(targets)


def test_a_live_broadcast_follows_changes_and_keeps_forwarding_through_a_failed_read() -> None:
    a = ForwardTarget("a1", "A", "rtmp://a.example/app", "ka")
    b = ForwardTarget("b1", "B", "rtmp://b.example/app", "kb")
    # Each read in turn: none saved, A added, unchanged, a failed read, B added, A removed, all gone.
    reads: list[list[ForwardTarget] | None] = [[], [a], [a], None, [a, b], [b], []]
    updates = _Updates()

    async def follow() -> None:
        async def targets() -> list[ForwardTarget] | None:
            if not reads:
                raise asyncio.CancelledError  # as the broadcast's end cancels it
            return reads.pop(0)

        with pytest.raises(asyncio.CancelledError):
            await follow_targets(cast(Restream, updates), targets, {}, 0)

    asyncio.run(follow())
    # Told only of changes; a failed read (None) is no change, an empty list is.
    assert updates.seen == [[], [a], [a, b], [b], []]

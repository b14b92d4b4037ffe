"""Latency in the browser: how far behind the publisher a viewer of the web app is.

A real ffmpeg publishes a pre-encoded 720p30 stream (H.264 1 s GOP + AAC) at real time over
RTMP to a local platform (started here on free ports, or the running `make dev` with
`--reuse`); headless Chromium (Debian's, driven by Playwright) opens the channel page of the web
app, whose hls.js player is tuned for 1 s segments (README "Web app"). Every 250 ms the page is
sampled:
- "behind live (PDT)": the player's own indicator, `Date.now() - hls.playingDate`, i.e. wall clock
  minus the `#EXT-X-PROGRAM-DATE-TIME` of the frame on screen;
- "publisher -> screen": the frame at media time t left the publisher at start + t (`-re`, start =
  when the publisher was launched), so this is the indicator plus (PDT of segment 0 - start): the
  time the ingest's clock started after the publisher did. Slightly pessimistic (it includes
  the RTMP connect and the key check);
- rebuffering (`waiting` events) and the playback rate (hls.js catches up at up to 1.5x).
Samples of the first `--warmup` seconds of playback are left out (the player settles).
"publish -> first frame" includes up to 5 s of the channel page's live-state poll.

Run from the repo root after `make web`: `.venv/bin/python -m bench.latency_browser [--seconds 40] [--reuse]`.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from bench.ingest_latency import channel, make_source, platform_urls
from letslive.media.playlists import parse_master_playlist, parse_media_playlist
from localstack.platform import CHROMIUM, CHROMIUM_ARGS, WEB_ROOT

BENCH_CHROMIUM_ARGS = [*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
SAMPLE_SECONDS = 0.25
# Installed once the page has a video element: counts stalls.
INSTRUMENT = """() => {
  const v = document.querySelector('[data-testid=player-video]');
  if (!v || v.__bench) return !!v;
  v.__bench = true; window.__stalls = 0;
  v.addEventListener('waiting', () => { window.__stalls += 1; });
  return true;
}"""
SAMPLE = """() => {
  const v = document.querySelector('[data-testid=player-video]');
  const l = document.querySelector('[data-testid=latency]');
  const s = document.querySelector('[data-testid=player-state]');
  return {now: Date.now() / 1000, latency: l ? l.getAttribute('data-seconds') : '',
          state: s ? s.textContent : '', rate: v ? v.playbackRate : 1, stalls: window.__stalls || 0};
}"""


def first_program_date(api: httpx.Client, name: str, deadline: float) -> datetime:
    """`#EXT-X-PROGRAM-DATE-TIME` of segment 0 of the top rung, read while the live window holds it."""
    while time.monotonic() < deadline:
        url = api.get(f"/streams/{name}").json().get("playback_url")
        if url:
            master = httpx.get(url)
            if master.status_code == 200:
                rung = url.rsplit("/", 1)[0] + "/" + parse_master_playlist(master.text)[0].uri
                playlist = httpx.get(rung)
                if playlist.status_code == 200:
                    for segment in parse_media_playlist(playlist.text).segments:
                        if segment.sequence == 0 and segment.program_date_time is not None:
                            return segment.program_date_time
        time.sleep(0.05)
    raise AssertionError("segment 0 with a program date-time was never seen")


def measure(edge: str, rtmp: str, seconds: int, warmup: float) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as work,
        httpx.Client(base_url=f"{edge}/api", timeout=30) as api,
        sync_playwright() as playwright,
    ):
        source = make_source(Path(work), seconds)
        name, key = channel(api)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BENCH_CHROMIUM_ARGS, headless=True)
        page = browser.new_context(base_url=edge).new_page()
        page.goto(f"/channel/?u={name}")
        page.wait_for_function(INSTRUMENT)
        publisher = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-i", str(source), "-c", "copy", "-f", "flv",
             f"{rtmp}/{key}"],
        )  # fmt: skip
        started = time.time()
        try:
            offset = first_program_date(api, name, time.monotonic() + 30).timestamp() - started
            page.get_by_test_id("player-state").filter(has_text="playing").wait_for(timeout=60_000)
            first_frame = time.time() - started
            playing_since = time.time()
            samples: list[dict[str, Any]] = []
            while publisher.poll() is None:
                sample = page.evaluate(SAMPLE)
                if sample["now"] - playing_since >= warmup and sample["latency"]:
                    samples.append(sample)
                time.sleep(SAMPLE_SECONDS)
        finally:
            if publisher.poll() is None:
                publisher.kill()
            publisher.wait(timeout=60)
            version = browser.version
            browser.close()
    behind = [float(s["latency"]) for s in samples if s["state"] == "playing"]
    return {
        "behind": behind,
        "publisher": [value + offset for value in behind],
        "offset": offset,
        "first_frame": first_frame,
        "stalls": samples[-1]["stalls"] - samples[0]["stalls"] if samples else 0,
        "catching_up": sum(1 for s in samples if s["rate"] > 1.0) / max(1, len(samples)),
        "chromium": version,
    }


def row(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:<24} {'-':>7} {'-':>7} {'-':>7} {0:>5}"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{name:<24} {statistics.median(ordered):>7.2f} {p95:>7.2f} {ordered[-1]:>7.2f} {len(ordered):>5}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=40, help="length of the published stream")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds of playback left out of the figures")
    parser.add_argument("--reuse", action="store_true", help="measure the running `make dev` platform")
    args = parser.parse_args()
    if not (WEB_ROOT / "index.html").is_file():
        print(f"the web app is not built ({WEB_ROOT}): run `make web`", file=sys.stderr)
        return 2
    with platform_urls(args.reuse) as (edge, rtmp):
        result = measure(edge, rtmp, args.seconds, args.warmup)
    print(f"Browser latency, 720p30 source, 1 s segments, hls.js in Chromium {result['chromium']} (seconds):")
    print(f"{'':<24} {'p50':>7} {'p95':>7} {'max':>7} {'n':>5}")
    print(row("behind live (PDT)", result["behind"]))
    print(row("publisher -> screen", result["publisher"]))
    print(f"ingest clock started {result['offset']:.2f} s after the publisher")
    print(f"publish -> first frame   {result['first_frame']:.2f} (includes up to 5 s of the page's live poll)")
    print(f"stalls after warm-up     {result['stalls']}; catching up (rate > 1) {result['catching_up']:.0%} of samples")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Latency in the browser: how far behind the publisher's camera a viewer of the web app is.

A live publisher (ffmpeg encoding a 720p30 test pattern in real time with OBS's x264 settings,
`tests/e2e/media.publish_clock`) burns its wall clock at capture into every frame, as a strip
of black/white blocks, and sends over RTMP to a local platform (started here on free ports, or
the running `make dev` with `--reuse`). Headless Chromium (Debian's, driven by Playwright) opens
the channel page of the web app, whose hls.js player is tuned for 1 s segments (README "Web
app"). Every 250 ms the page draws the frame on screen into a canvas and decodes the strip:
- "glass-to-glass": now minus the capture time burned into the frame on screen;
- "behind live (PDT)": the player's own indicator, `Date.now() - hls.playingDate`, i.e. wall clock
  minus the `#EXT-X-PROGRAM-DATE-TIME` of the frame on screen, and its error against the above;
- rebuffering (`waiting` events) and the playback rate (hls.js catches up at up to 1.5x).
Samples of the first `--warmup` seconds of playback are left out (the player settles).
"publish -> first frame" includes up to 5 s of the channel page's live-state poll.

Both ways, in one run, by the same method: the edge caching as CloudFront does (live playlists
kept 1 s by their `s-maxage=1`, segments a year; what a viewer in AWS sees), then the same edge
uncached (every request to S3), each with a channel, a publisher and a page of its own.
`--cache on|off` measures one way only; `--reuse` measures the running `make dev` edge as it is
configured (`LETSLIVE_EDGE_CACHE`), the only way it can.

Run from the repo root after `make web`:
`.venv/bin/python -m bench.latency_browser [--seconds 60] [--cache both|on|off] [--reuse]`.
"""

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import sync_playwright

from bench.ingest_latency import channel, platform_urls
from localstack.edge import Edge
from localstack.platform import CHROMIUM, CHROMIUM_ARGS, WEB_ROOT, local_platform
from tests.e2e.media import CLOCK_BITS, CLOCK_BLOCK_WIDTH, CLOCK_STRIP_HEIGHT, publish_clock

BENCH_CHROMIUM_ARGS = [*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
SAMPLE_SECONDS = 0.25
# How long the page may take to play before it is reloaded once (see `measure`).
FIRST_FRAME_PATIENCE_MS = 30_000
HEIGHT = 720
# Installed once the page has a video element: counts stalls, and a small canvas to read the clock.
INSTRUMENT = """() => {
  const v = document.querySelector('[data-testid=player-video]');
  if (!v || v.__bench) return !!v;
  v.__bench = true; window.__stalls = 0;
  v.addEventListener('waiting', () => { window.__stalls += 1; });
  return true;
}"""
# The clock strip, drawn 8 canvas pixels per block and read at each block's centre.
SAMPLE = f"""() => {{
  const v = document.querySelector('[data-testid=player-video]');
  const l = document.querySelector('[data-testid=latency]');
  const s = document.querySelector('[data-testid=player-state]');
  const now = Date.now();
  let clock = null;
  if (v && v.videoWidth) {{
    const c = window.__clockCanvas || (window.__clockCanvas = document.createElement('canvas'));
    c.width = {CLOCK_BITS} * 8; c.height = 4;
    const ctx = c.getContext('2d', {{willReadFrequently: true}});
    ctx.drawImage(v, 0, 0, v.videoWidth * {CLOCK_BITS * CLOCK_BLOCK_WIDTH}, v.videoHeight * {CLOCK_STRIP_HEIGHT},
                  0, 0, c.width, c.height);
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    clock = 0;
    for (let k = 0; k < {CLOCK_BITS}; k++) if (px[(2 * c.width + k * 8 + 4) * 4] > 128) clock += 2 ** k;
  }}
  return {{now: now / 1000, clock, latency: l ? l.getAttribute('data-seconds') : '',
          state: s ? s.textContent : '', rate: v ? v.playbackRate : 1, stalls: window.__stalls || 0,
          height: v ? v.videoHeight : 0}};
}}"""


def new_channel(api: httpx.Client, attempts: int = 3) -> tuple[str, str]:
    """A channel and its stream key; again with another name when a Lambda's cold start in the
    emulator outlasts its timeout on a loaded machine (the sign-up then answers 502)."""
    for attempt in range(1, attempts + 1):
        try:
            return channel(api)
        except (KeyError, httpx.HTTPError):
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def measure(edge: str, rtmp: str, seconds: int, warmup: float) -> dict[str, Any]:
    with httpx.Client(base_url=f"{edge}/api", timeout=30) as api, sync_playwright() as playwright:
        name, key = new_channel(api)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BENCH_CHROMIUM_ARGS, headless=True)
        page = browser.new_context(base_url=edge).new_page()
        page.goto(f"/channel/?u={name}")
        page.wait_for_function(INSTRUMENT)
        epoch = time.time()
        publisher = publish_clock(f"{rtmp}/{key}", HEIGHT, seconds, epoch)
        try:
            reloads = 0
            playing = page.get_by_test_id("player-state").filter(has_text="playing")
            try:
                playing.wait_for(timeout=FIRST_FRAME_PATIENCE_MS)
            except PlaywrightTimeoutError:
                # The page learnt the channel was live before its master playlist was stored (a
                # loaded machine), and the player does not load a manifest again after a 404.
                reloads += 1
                page.reload()
                page.wait_for_function(INSTRUMENT)
                playing.wait_for(timeout=60_000)
            first_frame = time.time() - epoch
            playing_since = time.time()
            samples: list[dict[str, Any]] = []
            while publisher.poll() is None:
                sample = page.evaluate(SAMPLE)
                if sample["now"] - playing_since >= warmup and sample["state"] == "playing":
                    samples.append(sample)
                time.sleep(SAMPLE_SECONDS)
        finally:
            if publisher.poll() is None:
                publisher.kill()
            publisher.wait(timeout=60)
            version = browser.version
            browser.close()
    glass: list[float] = []
    behind: list[float] = []
    error: list[float] = []
    unreadable = 0
    for sample in samples:
        truth = sample["now"] - epoch - (sample["clock"] or 0) / 1000
        # A misread strip decodes to an arbitrary time: anything outside 0-30 s is one.
        if sample["clock"] is None or not 0 < truth < 30:
            unreadable += 1
            continue
        glass.append(truth)
        if sample["latency"]:
            behind.append(float(sample["latency"]))
            error.append(behind[-1] - truth)
    return {
        "glass": glass,
        "behind": behind,
        "error": error,
        "unreadable": unreadable,
        "heights": sorted({s["height"] for s in samples}),
        "first_frame": first_frame,
        "stalls": samples[-1]["stalls"] - samples[0]["stalls"] if samples else 0,
        "early_stalls": samples[0]["stalls"] if samples else 0,
        "catching_up": sum(1 for s in samples if s["rate"] > 1.0) / max(1, len(samples)),
        "reloads": reloads,
        "chromium": version,
    }


@contextmanager
def platform(reuse: bool) -> Iterator[tuple[str, str, Edge | None]]:
    """(edge URL, RTMP URL, the edge) of a platform started for this run, whose edge is switched
    between the two ways; with `reuse`, the running `make dev`'s URLs and no edge to switch."""
    if reuse:
        with platform_urls(True) as (edge_url, rtmp):
            yield edge_url, rtmp, None
        return
    with tempfile.TemporaryDirectory() as state, local_platform(Path(state), stage="bench") as running:
        yield running.edge_url, running.rtmp_url, running.edge


def row(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:<24} {'-':>7} {'-':>7} {'-':>7} {0:>5}"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{name:<24} {statistics.median(ordered):>7.2f} {p95:>7.2f} {ordered[-1]:>7.2f} {len(ordered):>5}"


WAYS = {
    True: "as CloudFront caches (live playlists 1 s, segments a year)",
    False: "uncached (every request to S3)",
}


def report(result: dict[str, Any], way: str) -> None:
    print(f"Browser latency, {way}, live 720p30 publisher, 1 s segments, hls.js in Chromium {result['chromium']}")
    print(f"{'(seconds)':<24} {'p50':>7} {'p95':>7} {'max':>7} {'n':>5}")
    print(row("glass-to-glass", result["glass"]))
    print(row("behind live (PDT)", result["behind"]))
    print(row("PDT minus glass-to-glass", result["error"]))
    print(f"unreadable clock samples {result['unreadable']}; rungs on screen: {result['heights']}")
    reloaded = f"; the page reloaded {result['reloads']}x (player stuck after a 404 on the master)"
    print(
        f"publish -> first frame   {result['first_frame']:.2f} (includes up to 5 s of the page's live poll"
        f"{reloaded if result['reloads'] else ''})"
    )
    print(
        f"stalls after warm-up     {result['stalls']} (before: {result['early_stalls']}, the first load's included);"
        f" catching up (rate > 1) {result['catching_up']:.0%} of samples"
    )
    if "edge" in result:
        print(f"edge                     {result['edge']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60, help="length of each published stream")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds of playback left out of the figures")
    parser.add_argument(
        "--cache", choices=("both", "on", "off"), default="both", help="the edge caching as CloudFront, not, or both"
    )
    parser.add_argument("--reuse", action="store_true", help="measure the running `make dev` platform as it is")
    args = parser.parse_args()
    if not (WEB_ROOT / "index.html").is_file():
        print(f"the web app is not built ({WEB_ROOT}): run `make web`", file=sys.stderr)
        return 2
    ways = {"both": [True, False], "on": [True], "off": [False]}[args.cache]
    results: dict[bool, dict[str, Any]] = {}
    with platform(args.reuse) as (edge_url, rtmp, edge):
        if edge is None:
            ways = []
            results[True] = measure(edge_url, rtmp, args.seconds, args.warmup)
            report(results[True], "the running edge as configured")
        for caching in ways:
            assert edge is not None
            edge.caching = caching
            hits, misses = edge.cache.hits, edge.cache.origin_requests
            results[caching] = measure(edge_url, rtmp, args.seconds, args.warmup)
            if caching:
                hits, misses = edge.cache.hits - hits, edge.cache.origin_requests - misses
                results[caching]["edge"] = f"{hits} requests answered from the cache, {misses} from the origin"
            report(results[caching], WAYS[caching])
            print()
    if len(ways) == 2 and results[True]["glass"] and results[False]["glass"]:
        cached, uncached = (statistics.median(results[way]["glass"]) for way in (True, False))
        print(
            f"glass-to-glass p50: {cached:.2f} s as CloudFront caches, {uncached:.2f} s uncached "
            f"({cached - uncached:+.2f} s from the cache)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

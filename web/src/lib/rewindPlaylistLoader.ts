import {
  type HlsConfig,
  LoadStats,
  type Loader,
  type LoaderCallbacks,
  type LoaderConfiguration,
  type LoaderStats,
  type PlaylistLoaderConstructor,
  type PlaylistLoaderContext,
} from "hls.js";

// Rewinding a live broadcast plays its recording instead of the live window. The ingest worker
// stores each rung's recording as full chunks that never change (`event_<rung>_<n>.m3u8`, 300
// segments each) and the open recording after them (`event_<rung>.m3u8`), whose comment tag
// `#X-LETSLIVE-RECORDING:CHUNKS=…,CHUNK-SEGMENTS=…,REWIND-FROM=…` says how many chunks there
// are and where the rewind window starts (`letslive.media.playlists.open_recording`). This
// loader gives hls.js one media playlist per rung: the window's chunks (fetched once each),
// the open recording, and the live window's newer segments, joined by media sequence number.
// The master is the live one with each rung's playlist swapped for its recording.
const RECORDING_TAG = "#X-LETSLIVE-RECORDING:";
const RECORDING_PREFIX = "event_";

type Piece = { sequence: number; lines: string[] };
type Parsed = { mediaSequence: number; discontinuitySequence: number; targetDuration: number; pieces: Piece[] };

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly url: string,
  ) {
    super(`${status} for ${url}`);
  }
}

async function fetchText(url: string, signal: AbortSignal): Promise<string> {
  const response = await fetch(url, { signal, cache: "no-cache" });
  if (!response.ok) throw new HttpError(response.status, url);
  return response.text();
}

function attribute(text: string, tag: string): number | null {
  const match = new RegExp(`^${tag}:(\\d+)`, "m").exec(text);
  return match ? Number(match[1]) : null;
}

/** A media playlist's segments, each with its tags, numbered by media sequence. */
export function parseMedia(text: string): Parsed {
  const pieces: Piece[] = [];
  const mediaSequence = attribute(text, "#EXT-X-MEDIA-SEQUENCE") ?? 0;
  let pending: string[] = [];
  let inHeader = true;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line === "#EXTM3U") continue;
    const segmentTag =
      line.startsWith("#EXTINF") ||
      line === "#EXT-X-DISCONTINUITY" ||
      line === "#EXT-X-GAP" ||
      line.startsWith("#EXT-X-PROGRAM-DATE-TIME");
    if (inHeader && !segmentTag && line.startsWith("#")) continue; // the header's own tags
    inHeader = false;
    if (line.startsWith("#")) {
      if (segmentTag) pending.push(line);
      continue;
    }
    pieces.push({ sequence: mediaSequence + pieces.length, lines: [...pending, line] });
    pending = [];
  }
  return {
    mediaSequence,
    discontinuitySequence: attribute(text, "#EXT-X-DISCONTINUITY-SEQUENCE") ?? 0,
    targetDuration: attribute(text, "#EXT-X-TARGETDURATION") ?? 1,
    pieces,
  };
}

/** The playlists joined by media sequence: each one's segments after the last already there.
 * A later playlist that does not continue without a hole (a stale copy of the open recording
 * behind the live window) is left out: the recording then ends a few segments short of live. */
export function joinPlaylists(texts: string[]): string {
  const parsed = texts.map(parseMedia).filter((playlist) => playlist.pieces.length > 0);
  const first = parsed[0];
  if (!first) throw new Error("the recording has no segment yet");
  const joined: Piece[] = [];
  for (const playlist of parsed) {
    const last = joined.at(-1)?.sequence ?? playlist.mediaSequence - 1;
    if (playlist.mediaSequence > last + 1) break;
    joined.push(...playlist.pieces.filter((piece) => piece.sequence > last));
  }
  const lines = [
    "#EXTM3U",
    "#EXT-X-VERSION:6",
    `#EXT-X-TARGETDURATION:${Math.max(...parsed.map((playlist) => playlist.targetDuration))}`,
    `#EXT-X-MEDIA-SEQUENCE:${first.mediaSequence}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${first.discontinuitySequence}`,
    "#EXT-X-INDEPENDENT-SEGMENTS",
    ...joined.flatMap((piece) => piece.lines),
  ];
  return lines.join("\n") + "\n";
}

/** The live master with every rung's playlist replaced by its recording's. */
export function rewindMaster(master: string): string {
  return master
    .split("\n")
    .map((line) => (line && !line.startsWith("#") ? `${RECORDING_PREFIX}${line}` : line))
    .join("\n");
}

function recordingIndex(text: string): { chunks: number; rewindFrom: number } {
  const line = text.split("\n").find((l) => l.startsWith(RECORDING_TAG));
  if (!line) return { chunks: 0, rewindFrom: 0 };
  const value = (name: string) => Number(new RegExp(`${name}=(\\d+)`).exec(line)?.[1] ?? 0);
  return { chunks: value("CHUNKS"), rewindFrom: value("REWIND-FROM") };
}

async function rewindLevel(url: string, signal: AbortSignal, chunks: Map<string, Promise<string>>): Promise<string> {
  const path = url.split("?")[0] ?? url;
  const base = path.slice(0, path.lastIndexOf("/") + 1);
  const rung = path.slice(base.length + RECORDING_PREFIX.length, -".m3u8".length);
  const [opened, live] = await Promise.all([fetchText(url, signal), fetchText(`${base}${rung}.m3u8`, signal)]);
  const { chunks: count, rewindFrom } = recordingIndex(opened);
  const names = [];
  for (let n = rewindFrom; n < count; n += 1) names.push(`${base}${RECORDING_PREFIX}${rung}_${String(n).padStart(5, "0")}.m3u8`);
  const texts = await Promise.all(
    names.map((name) => {
      let text = chunks.get(name);
      if (!text) {
        // A chunk never changes: fetched once per player (and cached for a year by the CDN).
        text = fetchText(name, signal);
        chunks.set(name, text);
        text.catch(() => chunks.delete(name));
      }
      return text;
    }),
  );
  return joinPlaylists([...texts, opened, live]);
}

/** A playlist loader class for a player rewinding a live broadcast (hls.js's `pLoader`). */
export function rewindPlaylistLoader(): PlaylistLoaderConstructor {
  const chunks = new Map<string, Promise<string>>();
  return class RewindPlaylistLoader implements Loader<PlaylistLoaderContext> {
    context: PlaylistLoaderContext | null = null;
    stats: LoaderStats = new LoadStats();
    private controller: AbortController | null = null;

    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    constructor(_config: HlsConfig) {}

    load(
      context: PlaylistLoaderContext,
      _loaderConfig: LoaderConfiguration,
      callbacks: LoaderCallbacks<PlaylistLoaderContext>,
    ): void {
      this.context = context;
      const controller = new AbortController();
      this.controller = controller;
      const stats = new LoadStats();
      this.stats = stats;
      stats.loading.start = performance.now();
      const work =
        context.type === "manifest"
          ? fetchText(context.url, controller.signal).then(rewindMaster)
          : rewindLevel(context.url, controller.signal, chunks);
      work.then(
        (text) => {
          if (controller.signal.aborted) return;
          stats.loading.first = stats.loading.end = performance.now();
          stats.loaded = stats.total = text.length;
          callbacks.onSuccess({ url: context.url, data: text }, stats, context, null);
        },
        (error: unknown) => {
          if (controller.signal.aborted) return;
          stats.loading.end = performance.now();
          const code = error instanceof HttpError ? error.status : 0;
          callbacks.onError({ code, text: String(error) }, context, null, stats);
        },
      );
    }

    abort(): void {
      this.stats.aborted = true;
      this.controller?.abort();
    }

    destroy(): void {
      this.abort();
    }

    getCacheAge(): number | null {
      return null;
    }

    getResponseHeader(): string | null {
      return null;
    }
  };
}

import Hls, {
  type HlsConfig,
  type Loader,
  type LoaderCallbacks,
  type LoaderConfiguration,
  type LoaderContext,
  type LoaderStats,
  type PlaylistLoaderConstructor,
  type PlaylistLoaderContext,
} from "hls.js";

// hls.js reloads a live playlist once per segment duration on a fixed cadence, so a new segment
// is noticed up to a whole segment (half on average) after it is listed, and the player must
// hold back that much more to avoid running dry. Without LL-HLS blocking reloads (S3 and
// CloudFront cannot hold a request open), this loader does the waiting on the client: a live
// media playlist that has not advanced since the last one reported is fetched again every
// POLL_MS, for up to WAIT_MS, before hls.js sees it. New segments are noticed within ~POLL_MS.
const POLL_MS = 150;
const WAIT_MS = 1000;

/** The newest media sequence number a live media playlist lists; null for anything else. */
export function newestSequence(text: string): number | null {
  if (text.includes("#EXT-X-ENDLIST")) return null;
  const match = /^#EXT-X-MEDIA-SEQUENCE:(\d+)/m.exec(text);
  if (!match) return null;
  const segments = text.match(/^#EXTINF:/gm)?.length ?? 0;
  return segments ? Number(match[1]) + segments - 1 : null;
}

/** A playlist loader class for one player (hls.js builds one loader per request). */
export function livePlaylistLoader(): PlaylistLoaderConstructor {
  const Base = Hls.DefaultConfig.loader;
  const newest = new Map<string, number>();

  return class LivePlaylistLoader implements Loader<PlaylistLoaderContext> {
    context: PlaylistLoaderContext | null = null;
    stats: LoaderStats;
    private inner: Loader<LoaderContext>;
    private timer: ReturnType<typeof setTimeout> | undefined;
    private aborted = false;

    constructor(private readonly config: HlsConfig) {
      this.inner = new Base(config);
      this.stats = this.inner.stats;
    }

    load(
      context: PlaylistLoaderContext,
      loaderConfig: LoaderConfiguration,
      callbacks: LoaderCallbacks<PlaylistLoaderContext>,
    ): void {
      this.context = context;
      const deadline = performance.now() + WAIT_MS;
      const attempt = (): void => {
        if (this.aborted) return;
        this.inner.destroy();
        this.inner = new Base(this.config);
        this.stats = this.inner.stats;
        this.inner.load(context, loaderConfig, {
          ...callbacks,
          onSuccess: (response, stats, loaded, details) => {
            const sequence = typeof response.data === "string" ? newestSequence(response.data) : null;
            const previous = newest.get(context.url);
            const stale = sequence !== null && previous !== undefined && sequence <= previous;
            if (stale && performance.now() + POLL_MS < deadline) {
              this.timer = setTimeout(attempt, POLL_MS);
              return;
            }
            if (sequence !== null) newest.set(context.url, Math.max(sequence, previous ?? sequence));
            callbacks.onSuccess(response, stats, loaded as PlaylistLoaderContext, details);
          },
        } as LoaderCallbacks<LoaderContext>);
      };
      attempt();
    }

    abort(): void {
      this.aborted = true;
      clearTimeout(this.timer);
      this.inner.abort();
    }

    destroy(): void {
      this.abort();
      this.inner.destroy();
    }

    getCacheAge(): number | null {
      return this.inner.getCacheAge?.() ?? null;
    }

    getResponseHeader(name: string): string | null {
      return this.inner.getResponseHeader?.(name) ?? null;
    }
  };
}

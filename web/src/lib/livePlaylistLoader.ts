import Hls, {
  type HlsConfig,
  type Loader,
  type LoaderCallbacks,
  type LoaderConfiguration,
  type LoaderContext,
  type LoaderResponse,
  type LoaderStats,
  type NullableNetworkDetails,
  type PlaylistLoaderConstructor,
  type PlaylistLoaderContext,
} from "hls.js";

// hls.js reloads a live playlist once per segment duration on a fixed clock of its own, so it
// hears of a new segment anywhere from 0 to a whole segment after it is listed, a lag it
// cannot see: it takes the playlist's age from when the response arrived. Without LL-HLS
// blocking reloads (S3 and CloudFront cannot hold a request open), this loader keeps each live
// media playlist in view itself: it polls every POLL_MS while a new segment is due (quiet for
// most of a segment after one appeared), keeps the newest version with the time it was first
// seen, and answers hls.js with a version it has not had yet — at once if there is one, else
// as soon as one appears (up to WAIT_MS). The delivered version keeps the timings of the poll
// that found it, so hls.js dates the live edge from when the segment appeared, within POLL_MS.
const POLL_MS = 150;
const WAIT_MS = 1000;
// After a new version, no poll for this share of a target duration: the next segment is not due.
const QUIET_SHARE = 0.7;
// A playlist hls.js has not asked for in this long (a rung switched away from) stops being polled.
const IDLE_MS = 3000;

/** The newest media sequence number a live media playlist lists; null for anything else. */
export function newestSequence(text: string): number | null {
  if (text.includes("#EXT-X-ENDLIST")) return null;
  const match = /^#EXT-X-MEDIA-SEQUENCE:(\d+)/m.exec(text);
  if (!match) return null;
  const segments = text.match(/^#EXTINF:/gm)?.length ?? 0;
  return segments ? Number(match[1]) + segments - 1 : null;
}

function targetDurationMs(text: string): number {
  const match = /^#EXT-X-TARGETDURATION:(\d+)/m.exec(text);
  return match ? Number(match[1]) * 1000 : 1000;
}

type Version = {
  response: LoaderResponse;
  stats: LoaderStats;
  details: NullableNetworkDetails;
  sequence: number | null;
};
type Waiter = {
  callbacks: LoaderCallbacks<PlaylistLoaderContext>;
  context: PlaylistLoaderContext;
  deadline: number;
  setStats: (stats: LoaderStats) => void;
};
type BaseLoader = new (config: HlsConfig) => Loader<LoaderContext>;

/** One live playlist URL, polled while hls.js keeps asking for it. */
class PlaylistWatch {
  private latest: Version | null = null;
  private delivered = -1;
  private waiters: Waiter[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inFlight: Loader<LoaderContext> | null = null;
  private lastAsked = performance.now();

  constructor(
    private readonly Base: BaseLoader,
    private readonly config: HlsConfig,
    private readonly loaderConfig: LoaderConfiguration,
    private readonly context: PlaylistLoaderContext,
    private readonly onIdle: () => void,
  ) {}

  request(waiter: Waiter): void {
    this.lastAsked = performance.now();
    const latest = this.latest;
    if (latest && (latest.sequence === null || latest.sequence > this.delivered)) {
      this.deliver(latest, waiter);
      return;
    }
    this.waiters.push(waiter);
    if (!this.inFlight && this.timer === undefined) this.poll();
  }

  cancel(waiter: Waiter): void {
    this.waiters = this.waiters.filter((w) => w !== waiter);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.inFlight?.abort();
    this.inFlight?.destroy();
    this.inFlight = null;
  }

  private deliver(version: Version, waiter: Waiter): void {
    if (version.sequence !== null) this.delivered = Math.max(this.delivered, version.sequence);
    waiter.setStats(version.stats);
    waiter.callbacks.onSuccess(version.response, version.stats, waiter.context, version.details);
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.poll();
    }, delayMs);
  }

  private poll(): void {
    if (performance.now() - this.lastAsked > IDLE_MS && this.waiters.length === 0) {
      this.onIdle();
      return;
    }
    const loader = new this.Base(this.config);
    this.inFlight = loader;
    const finish = () => {
      loader.destroy();
      if (this.inFlight === loader) this.inFlight = null;
    };
    loader.load({ ...this.context }, this.loaderConfig, {
      onSuccess: (response, stats, _context, details) => {
        finish();
        const text = typeof response.data === "string" ? response.data : "";
        const sequence = newestSequence(text);
        const version: Version = { response, stats, details, sequence };
        const isNew = !this.latest || sequence === null || (this.latest.sequence ?? -1) < sequence;
        if (isNew) this.latest = version;
        const now = performance.now();
        const ready = this.waiters.filter((w) => isNew || now + POLL_MS >= w.deadline);
        this.waiters = this.waiters.filter((w) => !ready.includes(w));
        for (const waiter of ready) this.deliver(this.latest ?? version, waiter);
        if (sequence === null) return; // ended (or not a live media playlist): nothing more to watch
        this.schedule(isNew ? Math.max(POLL_MS, targetDurationMs(text) * QUIET_SHARE) : POLL_MS);
      },
      onError: (error, _context, details, stats) => {
        finish();
        // hls.js retries on its own terms: hand it the error, and poll again when it asks.
        const waiters = this.waiters;
        this.waiters = [];
        for (const waiter of waiters) waiter.callbacks.onError(error, waiter.context, details, stats);
      },
      onTimeout: (stats, _context, details) => {
        finish();
        const waiters = this.waiters;
        this.waiters = [];
        for (const waiter of waiters) waiter.callbacks.onTimeout(stats, waiter.context, details);
      },
    } as LoaderCallbacks<LoaderContext>);
  }
}

/** A playlist loader class for one player (hls.js builds one loader per request). */
export function livePlaylistLoader(): PlaylistLoaderConstructor {
  const Base = Hls.DefaultConfig.loader as BaseLoader;
  const watches = new Map<string, PlaylistWatch>();

  return class LivePlaylistLoader implements Loader<PlaylistLoaderContext> {
    context: PlaylistLoaderContext | null = null;
    stats: LoaderStats;
    private readonly direct: Loader<LoaderContext>;
    private waiter: Waiter | null = null;
    private watch: PlaylistWatch | null = null;

    constructor(private readonly config: HlsConfig) {
      this.direct = new Base(config);
      this.stats = this.direct.stats;
    }

    load(
      context: PlaylistLoaderContext,
      loaderConfig: LoaderConfiguration,
      callbacks: LoaderCallbacks<PlaylistLoaderContext>,
    ): void {
      this.context = context;
      if (context.type === "manifest") {
        this.direct.load(context, loaderConfig, callbacks as LoaderCallbacks<LoaderContext>);
        return;
      }
      let watch = watches.get(context.url);
      if (!watch) {
        const url = context.url;
        watch = new PlaylistWatch(Base, this.config, loaderConfig, context, () => {
          watches.get(url)?.stop();
          watches.delete(url);
        });
        watches.set(url, watch);
      }
      this.watch = watch;
      this.waiter = {
        callbacks,
        context,
        deadline: performance.now() + WAIT_MS,
        setStats: (stats) => {
          this.stats = stats;
        },
      };
      watch.request(this.waiter);
    }

    abort(): void {
      if (this.waiter) this.watch?.cancel(this.waiter);
      this.direct.abort();
    }

    destroy(): void {
      this.abort();
      this.direct.destroy();
    }

    getCacheAge(): number | null {
      return null;
    }

    getResponseHeader(name: string): string | null {
      return this.direct.getResponseHeader?.(name) ?? null;
    }
  };
}

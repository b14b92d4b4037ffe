"use client";

import Hls, { type ErrorData, type HlsConfig } from "hls.js";
import { type ReactNode, useCallback, useEffect, useRef, useState } from "react";

import { MutedIcon } from "@/components/Icons";
import { livePlaylistLoader } from "@/lib/livePlaylistLoader";
import { rewindPlaylistLoader } from "@/lib/rewindPlaylistLoader";

// 1 s segments, no LL-HLS parts. New segments are noticed within ~150 ms of being listed
// (`livePlaylistLoader`), so playback can sit 1.5 s behind the live edge (hls.js never goes
// closer than one segment); `lowLatencyMode` is what enables hls.js's playback-rate catch-up
// (up to 1.5x) whenever playback drifts behind that target, and a stall raises the target by
// 1 s (`liveSyncOnStallIncrease`). Past 5 s behind, it seeks back to the target. Little buffer
// either side. Measured with `bench/latency_browser.py` (docs/benchmarks.md).
export const LIVE_TUNING: Partial<HlsConfig> = {
  lowLatencyMode: true,
  liveSyncDuration: 1.5,
  liveMaxLatencyDuration: 5,
  maxLiveSyncPlaybackRate: 1.5,
  liveSyncOnStallIncrease: 1,
  backBufferLength: 10,
  maxBufferLength: 6,
  enableWorker: true,
};
const VOD_TUNING: Partial<HlsConfig> = { lowLatencyMode: false, backBufferLength: 30, maxBufferLength: 30 };
// Rewinding a live broadcast: its recording (`rewindPlaylistLoader`), started `liveSyncDuration`
// behind the live edge and never pulled back towards it (no catch-up, no seek past a latency).
const REWIND_TUNING: Partial<HlsConfig> = {
  ...VOD_TUNING,
  liveMaxLatencyDuration: 49 * 3600,
  maxLiveSyncPlaybackRate: 1,
};
export const REWIND_STEP_SECONDS = 30;

const MAX_NETWORK_RETRIES = 6;
const MANIFEST_ERRORS: ReadonlySet<string> = new Set([
  Hls.ErrorDetails.MANIFEST_LOAD_ERROR,
  Hls.ErrorDetails.MANIFEST_LOAD_TIMEOUT,
  Hls.ErrorDetails.MANIFEST_PARSING_ERROR,
]);

export type PlayerState = "offline" | "loading" | "playing" | "error";

interface LevelOption {
  index: number;
  height: number;
  bitrate: number;
  label: string;
}

export interface PlayerProps {
  /** The master playlist; null when there is nothing to play (offline). */
  src: string | null;
  live: boolean;
  poster?: string | null;
  offlineText?: string;
  /** Seconds behind live (from #EXT-X-PROGRAM-DATE-TIME), null when unknown. */
  onLatency?: (seconds: number | null) => void;
  /** The playback position as it moves: seconds into the media, and the wall-clock time it
   * was captured (#EXT-X-PROGRAM-DATE-TIME) when the playlist says. */
  onPosition?: (seconds: number, date: Date | null) => void;
  /** More controls for the bar, after the live ones (the channel page's Clip button). */
  actions?: ReactNode;
}

function levelOptions(hls: Hls): LevelOption[] {
  const levels = hls.levels.map((level, index) => ({ index, height: level.height, bitrate: level.bitrate }));
  const heights = new Map<number, number>();
  levels.forEach((level) => heights.set(level.height, (heights.get(level.height) ?? 0) + 1));
  return levels
    .map((level) => {
      const kbps = `${Math.round(level.bitrate / 1000)} kbps`;
      const name = level.height ? `${level.height}p` : kbps;
      const duplicate = level.height && (heights.get(level.height) ?? 0) > 1;
      return { ...level, label: duplicate ? `${name} (${kbps})` : name };
    })
    .sort((a, b) => b.height - a.height || b.bitrate - a.bitrate);
}

export default function Player({
  src,
  live,
  poster,
  offlineText = "Offline",
  onLatency,
  onPosition,
  actions,
}: PlayerProps) {
  const videoRef = useRef<HTMLVideoElement | null>(null);
  const hlsRef = useRef<Hls | null>(null);
  const [state, setState] = useState<PlayerState>(src ? "loading" : "offline");
  const [errorText, setErrorText] = useState("");
  const [levels, setLevels] = useState<LevelOption[]>([]);
  const [selected, setSelected] = useState(-1);
  const [currentLevel, setCurrentLevel] = useState(-1);
  const [latency, setLatency] = useState<number | null>(null);
  const [muted, setMuted] = useState(true);
  const [attempt, setAttempt] = useState(0);
  // Seconds behind live the rewound playback started at; null: playing the live edge.
  const [rewind, setRewind] = useState<number | null>(null);
  const latencyRef = useRef<number | null>(null);
  latencyRef.current = latency;
  const onLatencyRef = useRef(onLatency);
  onLatencyRef.current = onLatency;
  const onPositionRef = useRef(onPosition);
  onPositionRef.current = onPosition;

  useEffect(() => {
    const video = videoRef.current;
    setLevels([]);
    setSelected(-1);
    setCurrentLevel(-1);
    setLatency(null);
    setErrorText("");
    if (!video || !src) {
      setState("offline");
      return;
    }
    setState("loading");
    let disposed = false;
    let retryTimer: ReturnType<typeof setTimeout> | null = null;
    const fail = (text: string) => {
      if (disposed) return;
      setErrorText(text);
      setState("error");
    };
    const onPlaying = () => !disposed && setState("playing");
    const onWaiting = () => !disposed && setState((s) => (s === "playing" ? "loading" : s));
    const onVolume = () => setMuted(video.muted);
    const onTime = () => onPositionRef.current?.(video.currentTime, hlsRef.current?.playingDate ?? null);
    video.addEventListener("timeupdate", onTime);
    video.addEventListener("seeked", onTime);
    video.addEventListener("playing", onPlaying);
    video.addEventListener("waiting", onWaiting);
    video.addEventListener("volumechange", onVolume);
    video.muted = true; // browsers only autoplay muted video
    setMuted(true);
    const play = () => void video.play().catch(() => undefined);

    let hls: Hls | null = null;
    if (Hls.isSupported()) {
      let config: Partial<HlsConfig> = VOD_TUNING;
      if (live && rewind === null) config = { ...LIVE_TUNING, pLoader: livePlaylistLoader() };
      else if (live) config = { ...REWIND_TUNING, liveSyncDuration: rewind ?? 0, pLoader: rewindPlaylistLoader() };
      hls = new Hls(config);
      hlsRef.current = hls;
      let networkRetries = 0;
      let lastMediaRecovery = 0;
      let mediaRecoveries = 0;
      hls.on(Hls.Events.MANIFEST_PARSED, () => {
        if (!hls) return;
        setLevels(levelOptions(hls));
        play();
      });
      hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => setCurrentLevel(data.level));
      hls.on(Hls.Events.FRAG_LOADED, () => {
        networkRetries = 0;
      });
      hls.on(Hls.Events.ERROR, (_event, data: ErrorData) => {
        if (!data.fatal || !hls) return;
        if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
          // hls.js has used its own retries; restart loading with backoff a few more times
          // (a live playlist that is not there yet, an origin hiccup).
          if (networkRetries >= MAX_NETWORK_RETRIES) {
            fail(live ? "The stream could not be loaded." : "The video could not be loaded.");
            return;
          }
          const delay = Math.min(1000 * 2 ** networkRetries, 8000);
          networkRetries += 1;
          setState("loading");
          // `startLoad` resumes fragments and level playlists; a master playlist that never
          // loaded (asked for before the first segment was stored) must be requested again.
          const manifest = MANIFEST_ERRORS.has(data.details);
          retryTimer = setTimeout(() => (manifest ? hls?.loadSource(src) : hls?.startLoad()), delay);
        } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
          const now = Date.now();
          if (now - lastMediaRecovery > 10_000) mediaRecoveries = 0;
          lastMediaRecovery = now;
          mediaRecoveries += 1;
          if (mediaRecoveries === 1) {
            hls.recoverMediaError();
          } else if (mediaRecoveries === 2) {
            hls.swapAudioCodec();
            hls.recoverMediaError();
          } else {
            fail("The video could not be decoded.");
          }
        } else {
          fail(`Playback failed (${data.details}).`);
        }
      });
      hls.loadSource(src);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = src; // Safari: native HLS
      video.addEventListener("loadedmetadata", play, { once: true });
    } else {
      fail("This browser cannot play HLS video.");
    }
    const onVideoError = () => {
      if (!hls) fail("The video could not be played.");
    };
    video.addEventListener("error", onVideoError);

    return () => {
      disposed = true;
      if (retryTimer) clearTimeout(retryTimer);
      video.removeEventListener("timeupdate", onTime);
      video.removeEventListener("seeked", onTime);
      video.removeEventListener("playing", onPlaying);
      video.removeEventListener("waiting", onWaiting);
      video.removeEventListener("volumechange", onVolume);
      video.removeEventListener("error", onVideoError);
      video.removeEventListener("loadedmetadata", play);
      hls?.destroy();
      hlsRef.current = null;
      video.removeAttribute("src");
      video.load();
    };
  }, [src, live, attempt, rewind]);

  useEffect(() => setRewind(null), [src]); // a new broadcast starts at its live edge

  // Seconds behind live: wall clock minus the program date-time of what is on screen.
  useEffect(() => {
    if (!live || !src) {
      onLatencyRef.current?.(null);
      return;
    }
    const timer = setInterval(() => {
      const date = hlsRef.current?.playingDate;
      const value = date ? Math.max(0, (Date.now() - date.getTime()) / 1000) : null;
      setLatency(value);
      onLatencyRef.current?.(value);
    }, 500);
    return () => clearInterval(timer);
  }, [live, src, attempt, rewind]);

  const chooseLevel = useCallback((index: number) => {
    setSelected(index);
    if (hlsRef.current) hlsRef.current.currentLevel = index; // -1 = Auto (ABR)
  }, []);

  const stepBack = useCallback(() => {
    const video = videoRef.current;
    if (!video) return;
    if (rewind === null) {
      // Off the live window: the recording, from this far behind the live edge.
      setRewind((latencyRef.current ?? LIVE_TUNING.liveSyncDuration ?? 0) + REWIND_STEP_SECONDS);
      return;
    }
    const earliest = video.seekable.length ? video.seekable.start(0) : 0;
    video.currentTime = Math.max(earliest, video.currentTime - REWIND_STEP_SECONDS);
  }, [rewind]);

  const jumpToLive = useCallback(() => {
    if (rewind !== null) {
      setRewind(null); // back to the live window and its low-latency tuning
      return;
    }
    const hls = hlsRef.current;
    const video = videoRef.current;
    if (!video) return;
    const edge = hls?.liveSyncPosition;
    if (edge !== null && edge !== undefined && Number.isFinite(edge)) video.currentTime = edge;
    else if (video.seekable.length) video.currentTime = video.seekable.end(video.seekable.length - 1) - 2;
    void video.play().catch(() => undefined);
  }, [rewind]);

  const toggleMute = useCallback(() => {
    const video = videoRef.current;
    if (!video) return;
    video.muted = !video.muted;
    if (!video.muted && video.volume === 0) video.volume = 1;
    setMuted(video.muted);
  }, []);

  const playing = levels.find((level) => level.index === currentLevel);
  const behind = rewind !== null || (latency !== null && latency > 8);

  return (
    <div className="player" data-state={state} data-rewinding={rewind !== null}>
      <div className="player-screen">
        <video
          ref={videoRef}
          data-testid="player-video"
          className="player-video"
          playsInline
          muted
          autoPlay
          controls={state !== "offline"}
          poster={poster ?? undefined}
        />
        {state === "offline" && (
          <div className="player-overlay">
            <div className="player-offline">{offlineText}</div>
          </div>
        )}
        {state === "loading" && (
          <div className="player-overlay player-overlay-clear">
            <div className="spinner" aria-label="Loading" />
          </div>
        )}
        {state === "error" && (
          <div className="player-overlay">
            <p>{errorText || "Playback failed."}</p>
            <button className="btn" type="button" onClick={() => setAttempt((n) => n + 1)}>
              Retry
            </button>
          </div>
        )}
        {state !== "offline" && muted && (
          <button className="player-unmute" type="button" onClick={toggleMute}>
            <MutedIcon size={16} /> Unmute
          </button>
        )}
      </div>
      <div className="player-bar">
        <span className={`player-state player-state-${state}`} data-testid="player-state">
          {state}
        </span>
        {live && state !== "offline" && (
          <>
            <span className="player-latency" data-testid="latency" data-seconds={latency?.toFixed(1) ?? ""}>
              {latency === null ? "– s behind live" : `${latency.toFixed(1)} s behind live`}
            </span>
            <button
              className="btn btn-small"
              type="button"
              data-testid="rewind"
              title={`Back ${REWIND_STEP_SECONDS} seconds (the broadcast so far)`}
              onClick={stepBack}
            >
              ⟲ {REWIND_STEP_SECONDS} s
            </button>
            <button
              className={`btn btn-small ${behind ? "btn-primary" : ""}`}
              type="button"
              data-testid="jump-to-live"
              onClick={jumpToLive}
            >
              Jump to live
            </button>
          </>
        )}
        {actions}
        <span className="spacer" />
        {state !== "offline" && !muted && (
          <button className="btn btn-small" type="button" onClick={toggleMute}>
            Mute
          </button>
        )}
        <label className="player-quality">
          <span className="sr-only">Quality</span>
          <select
            data-testid="quality-select"
            data-level={currentLevel}
            data-height={playing?.height ?? ""}
            value={selected}
            disabled={levels.length === 0}
            onChange={(event) => chooseLevel(Number(event.target.value))}
          >
            <option value={-1}>{playing && selected === -1 ? `Auto (${playing.label})` : "Auto"}</option>
            {levels.map((level) => (
              <option key={level.index} value={level.index}>
                {level.label}
              </option>
            ))}
          </select>
        </label>
      </div>
    </div>
  );
}

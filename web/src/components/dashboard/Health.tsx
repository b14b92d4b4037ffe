"use client";

import type { LiveSession } from "@/components/dashboard/useLiveSession";
import { describeError } from "@/lib/api";
import { formatCount, liveFor } from "@/lib/format";
import type { IngestWarning, RungReport, StreamHealthReport } from "@/lib/types";

function Stat({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value" data-testid={testId}>
        {value}
      </div>
    </div>
  );
}

const fixed = (value: number | null | undefined, digits: number, unit = "") =>
  value === null || value === undefined ? "–" : `${value.toFixed(digits)}${unit}`;

const CODEC_NAMES: Record<string, string> = { h264: "H.264", hevc: "HEVC", av1: "AV1", aac: "AAC", mp3: "MP3" };
const codecName = (codec: string) => CODEC_NAMES[codec.toLowerCase()] ?? codec.toUpperCase();

function codecs(report: StreamHealthReport | null): string {
  if (!report?.video_codec) return "–";
  return `${codecName(report.video_codec)} · ${report.audio_codec ? codecName(report.audio_codec) : "no audio"}`;
}

/** "1080p30 (source)": how a viewer's quality menu names it, and whether it is the source. */
const rungLabel = (rung: RungReport) =>
  rung.height ? `${rung.height}p${Math.round(rung.fps)}${rung.copied ? " (source)" : ""}` : "audio only";

function TopRung({ report }: { report: StreamHealthReport }) {
  if (!report.top_rung) return null;
  const what = report.top_rung === "copied" ? "Copied from your encoder" : "Re-encoded";
  return (
    <p data-testid="health-top-rung" data-top-rung={report.top_rung}>
      Best quality: <strong>{what}</strong>
      {report.top_rung_reason && <span className="muted"> ({report.top_rung_reason})</span>}
    </p>
  );
}

function Warning({ warning }: { warning: IngestWarning }) {
  return (
    <p className="warn-box" data-testid="health-warning" data-code={warning.code}>
      {warning.message}
      {warning.setting && (
        <>
          {" "}
          Change: <strong data-testid="health-warning-setting">{warning.setting}</strong>
        </>
      )}
    </p>
  );
}

/** The live session's health as the ingest worker reports it, plus the viewers and the
 *  preview's latency; liveness comes from the page's one session (`useLiveSession`). */
export default function Health({ session, latency }: { session: LiveSession; latency: number | null }) {
  const { liveness, report, error } = session;
  const segmentAge = report?.last_segment_at
    ? Math.max(0, (Date.now() - Date.parse(report.last_segment_at)) / 1000)
    : null;
  const speed = report?.transcode_speed;
  return (
    <section className="panel" data-testid="stream-health">
      <div className="section-head">
        <h2>Stream health</h2>
        {liveness === "offline" && (
          <span className="status-offline" data-testid="health-offline">
            OFFLINE
          </span>
        )}
        {report && (
          <span className="status-live" data-testid="health-live">
            LIVE {liveFor(report.started_at)}
          </span>
        )}
      </div>
      {liveness === "offline" && (
        <p className="muted">Not live. Start streaming from OBS with the server and key from Stream setup.</p>
      )}
      {error !== null && (
        <p className="muted" data-testid="health-stale">
          Could not refresh ({describeError(error)}); showing the last known state.
        </p>
      )}
      <div className="stats">
        <Stat label="Codecs" value={codecs(report)} testId="health-codecs" />
        <Stat label="Resolution" value={report?.resolution ?? "–"} testId="health-resolution" />
        <Stat label="Frame rate" value={fixed(report?.fps, 1, " fps")} testId="health-fps" />
        <Stat label="Input bitrate" value={fixed(report?.input_bitrate_kbps, 0, " kbps")} testId="health-bitrate" />
        <Stat
          label="Keyframe interval"
          value={fixed(report?.keyframe_interval_seconds, 1, " s")}
          testId="health-keyframes"
        />
        <Stat label="Transcode speed" value={fixed(speed, 2, "x")} testId="health-speed" />
        <Stat label="Last segment" value={fixed(segmentAge, 1, " s ago")} testId="health-segment" />
        <Stat label="Viewers" value={report ? formatCount(report.viewer_count) : "–"} testId="health-viewers" />
        <Stat label="Player latency" value={fixed(latency, 1, " s")} testId="health-latency" />
      </div>
      {report && (
        <div style={{ marginTop: 12 }}>
          <TopRung report={report} />
          {report.rungs.length > 0 && (
            <p>
              Viewers get: <span data-testid="health-rungs">{report.rungs.map(rungLabel).join(" · ")}</span>
            </p>
          )}
          {report.warnings.map((warning, index) => (
            <Warning key={`${warning.code}-${index}`} warning={warning} />
          ))}
        </div>
      )}
      {speed !== null && speed !== undefined && speed < 1 && (
        <p className="warn-box">Transcoding is slower than real time: viewers will fall behind.</p>
      )}
    </section>
  );
}

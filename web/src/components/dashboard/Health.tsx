"use client";

import { useState } from "react";

import { api, ApiError } from "@/lib/api";
import { formatCount, liveFor } from "@/lib/format";
import type { StreamHealthReport } from "@/lib/types";
import { usePoll } from "@/lib/usePoll";

const POLL_MS = 2000;

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

/** The live session's health (`GET /streams/me/health`, every 2 s), viewers and player latency. */
export default function Health({ viewers, latency }: { viewers: number | null; latency: number | null }) {
  const [report, setReport] = useState<StreamHealthReport | null>(null);
  const [offline, setOffline] = useState(false);
  const [, setTick] = useState(0);

  usePoll(async () => {
    try {
      setReport(await api<StreamHealthReport>("/streams/me/health", { auth: "required" }));
      setOffline(false);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        setReport(null);
        setOffline(true);
      }
    }
    setTick((n) => n + 1);
  }, POLL_MS);

  const segmentAge = report?.last_segment_at
    ? Math.max(0, (Date.now() - Date.parse(report.last_segment_at)) / 1000)
    : null;
  const speed = report?.transcode_speed;
  return (
    <section className="panel" data-testid="stream-health">
      <div className="section-head">
        <h2>Stream health</h2>
        {offline ? (
          <span className="status-offline" data-testid="health-offline">
            OFFLINE
          </span>
        ) : report ? (
          <span className="status-live" data-testid="health-live">
            LIVE {liveFor(report.started_at)}
          </span>
        ) : null}
      </div>
      {offline && <p className="muted">Not live. Start streaming from OBS with the server and key above.</p>}
      <div className="stats">
        <Stat label="Input bitrate" value={fixed(report?.input_bitrate_kbps, 0, " kbps")} testId="health-bitrate" />
        <Stat label="Frame rate" value={fixed(report?.fps, 1, " fps")} testId="health-fps" />
        <Stat label="Resolution" value={report?.resolution ?? "–"} testId="health-resolution" />
        <Stat
          label="Transcode speed"
          value={speed === null || speed === undefined ? "–" : `${speed.toFixed(2)}x`}
          testId="health-speed"
        />
        <Stat label="Last segment" value={fixed(segmentAge, 1, " s ago")} testId="health-segment" />
        <Stat label="Viewers" value={viewers === null ? "–" : formatCount(viewers)} testId="health-viewers" />
        <Stat label="Player latency" value={fixed(latency, 1, " s")} testId="health-latency" />
      </div>
      {speed !== null && speed !== undefined && speed < 1 && (
        <p className="warn-box">Transcoding is slower than real time: viewers will fall behind.</p>
      )}
    </section>
  );
}

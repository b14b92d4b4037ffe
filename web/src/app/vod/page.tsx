"use client";

import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense, useState } from "react";

import ErrorBox from "@/components/ErrorBox";
import Player from "@/components/Player";
import { api, isNotFound } from "@/lib/api";
import { channelHref, formatDate, formatDuration } from "@/lib/format";
import type { Vod } from "@/lib/types";
import { useAsyncEffect } from "@/lib/useAsyncEffect";

function VodView({ id }: { id: string }) {
  const [vod, setVod] = useState<Vod | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);

  useAsyncEffect(
    () => api<Vod>(`/vods/${encodeURIComponent(id)}`, { auth: "none" }),
    [id],
    setVod,
    (err) => (isNotFound(err) ? setMissing(true) : setError(err)),
  );

  if (missing) {
    return (
      <div className="empty" data-testid="vod-missing">
        <h1>Video not found</h1>
        <p>It may have been deleted or have expired.</p>
      </div>
    );
  }
  return (
    <div style={{ maxWidth: 1200, margin: "0 auto" }}>
      <ErrorBox error={error} testId="vod-error" />
      <Player src={vod?.playback_url ?? null} live={false} poster={vod?.thumbnail_url} offlineText="Loading…" />
      {vod && (
        <div className="channel-info">
          <div className="channel-text">
            <h1 data-testid="vod-title">{vod.title || "Untitled broadcast"}</h1>
            <div className="card-meta">
              <Link href={channelHref(vod.username)}>{vod.username}</Link>
              {vod.category && <span className="pill">{vod.category}</span>}
              <span data-testid="vod-duration">{formatDuration(vod.duration_seconds)}</span>
              <span>streamed {formatDate(vod.started_at)}</span>
              <span>available until {formatDate(vod.expires_at)}</span>
              {vod.rungs.length > 0 && (
                <span>
                  {[...vod.rungs]
                    .sort((a, b) => b.height - a.height)
                    .map((r) => (r.height ? `${r.height}p` : "audio only"))
                    .join(" · ")}
                </span>
              )}
            </div>
          </div>
        </div>
      )}
    </div>
  );
}

function VodPage() {
  const id = useSearchParams().get("id") ?? "";
  if (!id) {
    return (
      <div className="empty">
        <h1>No video given</h1>
      </div>
    );
  }
  return <VodView key={id} id={id} />;
}

export default function Page() {
  return (
    <Suspense fallback={<div className="page-loading">Loading…</div>}>
      <VodPage />
    </Suspense>
  );
}

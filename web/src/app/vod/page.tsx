"use client";

import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense, useCallback, useState } from "react";

import ChatReplay, { vodReplay } from "@/components/ChatReplay";
import ErrorBox from "@/components/ErrorBox";
import Player from "@/components/Player";
import VodClipper from "@/components/VodClipper";
import { api, isNotFound } from "@/lib/api";
import { channelHref, formatDate, formatDuration } from "@/lib/format";
import type { Vod } from "@/lib/types";
import { useAsyncEffect } from "@/lib/useAsyncEffect";
import { useSession } from "@/lib/useSession";

function VodView({ id }: { id: string }) {
  const session = useSession();
  const [vod, setVod] = useState<Vod | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);
  // Seconds after the VOD's start (its `started_at`) of what is on screen: from the segments'
  // capture times when the playlist has them, so gaps (a publisher's reconnect) stay in sync.
  const [offset, setOffset] = useState(0);
  // The player's position (its currentTime): seconds from the broadcast's start, where a clip
  // starts (`POST /clips` `start_seconds`).
  const [position, setPosition] = useState(0);
  const startedAt = vod ? Date.parse(vod.started_at) : null;
  const onPosition = useCallback(
    (seconds: number, date: Date | null) => {
      setPosition(seconds);
      setOffset(date && startedAt !== null ? Math.max(0, (date.getTime() - startedAt) / 1000) : seconds);
    },
    [startedAt],
  );

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
    <div className="channel-layout">
      <div>
        <ErrorBox error={error} testId="vod-error" />
        <Player
          src={vod?.playback_url ?? null}
          live={false}
          poster={vod?.thumbnail_url}
          offlineText="Loading…"
          onPosition={onPosition}
        />
        {vod && session.status === "signed-in" && (
          <VodClipper vodId={vod.vod_id} duration={vod.duration_seconds} position={position} />
        )}
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
      {vod && <ChatReplay source={vodReplay(vod.vod_id)} offset={offset} />}
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

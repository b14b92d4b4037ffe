"use client";

import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useCallback, useRef, useState } from "react";

import ChatReplay, { clipReplay } from "@/components/ChatReplay";
import ClipDownload, { isPreparing } from "@/components/ClipDownload";
import CopyButton from "@/components/CopyButton";
import ErrorBox from "@/components/ErrorBox";
import { TrashIcon } from "@/components/Icons";
import Player from "@/components/Player";
import { api, isNotFound } from "@/lib/api";
import { channelHref, clipHref, formatCount, formatDate, formatDuration } from "@/lib/format";
import type { Clip } from "@/lib/types";
import { useAction } from "@/lib/useAction";
import { useAsyncEffect } from "@/lib/useAsyncEffect";
import { usePoll } from "@/lib/usePoll";
import { useSession } from "@/lib/useSession";

/** A clip id as the API takes it (anything else is no clip). */
const CLIP_ID = /^[0-9a-f]{16}$/;
/** How often the clip is read again while its MP4 is being prepared (it advances in ~10 % steps). */
const DOWNLOAD_POLL_MS = 1000;

/** The clip with this page's view counted (`POST /clips/{id}/views`); should counting fail for
 *  another reason than a missing clip, the clip as it is (`GET`, retried on a gateway error). */
async function viewClip(id: string): Promise<Clip> {
  const path = `/clips/${encodeURIComponent(id)}`;
  try {
    return await api<Clip>(`${path}/views`, { method: "POST", auth: "none" });
  } catch (err) {
    if (isNotFound(err)) throw err;
    return api<Clip>(path, { auth: "none" });
  }
}

function NotFound() {
  return (
    <div className="empty" data-testid="clip-not-found">
      <h1>Clip not found</h1>
      <p>
        It may have been deleted. <Link href="/">Browse live channels</Link>
      </p>
    </div>
  );
}

function ClipView({ id }: { id: string }) {
  const session = useSession();
  const router = useRouter();
  const [clip, setClip] = useState<Clip | null>(null);
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const removal = useAction(true);
  const retrial = useAction();
  // One view per page load: the effect running twice (React's strict mode) shares the request.
  const viewing = useRef<Promise<Clip> | null>(null);
  // The player's position (its currentTime): seconds from the clip's start.
  const [position, setPosition] = useState(0);
  const onPosition = useCallback((seconds: number) => setPosition(seconds), []);

  useAsyncEffect(
    () => (viewing.current ??= viewClip(id)),
    [id],
    setClip,
    (err) => (isNotFound(err) ? setMissing(true) : setError(err)),
  );

  // While its MP4 is being prepared, the clip is read again (the plain `GET`: no view counted)
  // every second until it is ready or failed; only its `download` is taken (the views shown are
  // the count this load's view answered). Stopping (unmounted, ready, deleting) aborts a read in
  // flight, and its answer is dropped.
  const preparing = clip !== null && isPreparing(clip.download) && !removal.busy;
  usePoll(
    async (signal) => {
      try {
        const fresh = await api<Clip>(`/clips/${encodeURIComponent(id)}`, { auth: "none", signal });
        if (!signal.aborted) setClip((shown) => shown && { ...shown, download: fresh.download });
      } catch (err) {
        if (!signal.aborted && isNotFound(err)) setMissing(true); // deleted meanwhile
      }
    },
    DOWNLOAD_POLL_MS,
    preparing,
    [id],
  );

  if (missing) return <NotFound />;

  const me = session.status === "signed-in" ? session.username.toLowerCase() : null;
  // The creator or the channel's owner (its moderators may too, through the API).
  const canManage = clip !== null && me !== null && (me === clip.creator.toLowerCase() || me === clip.channel.toLowerCase());
  // Only rendered once the clip has loaded, in the browser.
  const shareUrl = clip ? `${window.location.origin}${clipHref(clip.clip_id)}` : "";

  const remove = (target: Clip) =>
    void removal.run(async () => {
      await api(`/clips/${encodeURIComponent(target.clip_id)}`, { method: "DELETE", auth: "required" });
      router.push(channelHref(target.channel));
    });

  // The clip comes back with its download `pending`: the poll above takes it from there.
  const retry = (target: Clip) =>
    void retrial.run(async () => {
      const fresh = await api<Clip>(`/clips/${encodeURIComponent(target.clip_id)}/download`, {
        method: "POST",
        auth: "required",
      });
      setClip((shown) => shown && { ...shown, download: fresh.download });
    });

  return (
    <div className="clip-page channel-layout">
      <div>
        <ErrorBox error={error} testId="clip-load-error" />
        <Player src={clip?.playback_url ?? null} live={false} offlineText="Loading…" onPosition={onPosition} />
        {clip && (
          <>
            <div className="channel-info">
              <div className="channel-text">
                <h1 data-testid="clip-title">{clip.title || "Untitled clip"}</h1>
                <div className="card-meta">
                  <Link href={channelHref(clip.channel)} data-testid="clip-channel">
                    {clip.channel}
                  </Link>
                  <span>
                    clipped by <span data-testid="clip-creator">{clip.creator}</span>
                  </span>
                  <span data-testid="clip-views" data-count={clip.views}>
                    {formatCount(clip.views)} {clip.views === 1 ? "view" : "views"}
                  </span>
                  <span data-testid="clip-duration">{formatDuration(clip.duration_seconds)}</span>
                  <span>{formatDate(clip.created_at)}</span>
                </div>
              </div>
              {canManage && (
                <button
                  type="button"
                  className="btn btn-danger"
                  data-testid="clip-delete"
                  disabled={removal.busy}
                  onClick={() => remove(clip)}
                >
                  <TrashIcon /> {removal.busy ? "Deleting…" : "Delete"}
                </button>
              )}
            </div>
            <ErrorBox error={removal.error} testId="clip-delete-error" />
            <section className="panel section" aria-labelledby="clip-download-title">
              <h3 id="clip-download-title">Download</h3>
              <ClipDownload
                download={clip.download}
                onRetry={canManage ? () => retry(clip) : undefined}
                retrying={retrial.busy}
              />
              <ErrorBox error={retrial.error} testId="clip-download-retry-error" />
            </section>
            <section className="panel section" aria-labelledby="clip-share">
              <h3 id="clip-share">Share</h3>
              <div className="form-row">
                <code className="secret" data-testid="clip-share-url">
                  {shareUrl}
                </code>
                <CopyButton text={shareUrl} label="Copy link" testId="copy-clip-url" />
              </div>
            </section>
          </>
        )}
      </div>
      {clip && (
        // The clip's range of its broadcast's chat (a VOD's id is its broadcast's id), in sync
        // with the clip: its position plus where it starts in the broadcast.
        <ChatReplay source={clipReplay(clip.clip_id)} offset={position} end={clip.duration_seconds} />
      )}
    </div>
  );
}

function ClipPage() {
  const id = (useSearchParams().get("id") ?? "").trim();
  if (!id) {
    return (
      <div className="empty">
        <h1>No clip given</h1>
      </div>
    );
  }
  if (!CLIP_ID.test(id)) return <NotFound />;
  return <ClipView key={id} id={id} />;
}

export default function Page() {
  return (
    <Suspense fallback={<div className="page-loading">Loading…</div>}>
      <ClipPage />
    </Suspense>
  );
}

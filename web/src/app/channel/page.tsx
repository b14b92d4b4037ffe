"use client";

import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense, useRef, useState } from "react";

import Chat from "@/components/Chat";
import ErrorBox from "@/components/ErrorBox";
import LiveBadge from "@/components/LiveBadge";
import FollowButton from "@/components/FollowButton";
import Player from "@/components/Player";
import VodCard from "@/components/VodCard";
import { api, isNotFound } from "@/lib/api";
import { useChatRoom } from "@/lib/chat";
import { formatCount, liveFor } from "@/lib/format";
import type { ChannelState, PublicProfile, Vod, VodPage } from "@/lib/types";
import { useAsyncEffect } from "@/lib/useAsyncEffect";
import { usePoll } from "@/lib/usePoll";
import { useSession } from "@/lib/useSession";

const STATE_POLL_MS = 5000;

function Channel({ username }: { username: string }) {
  const session = useSession();
  const [profile, setProfile] = useState<PublicProfile | null>(null);
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [state, setState] = useState<ChannelState | null>(null);
  const [vods, setVods] = useState<Vod[] | null>(null);
  const [vodCursor, setVodCursor] = useState<string | null>(null);
  const wasLive = useRef<boolean | null>(null);
  const room = useChatRoom(missing ? null : username);

  // The profile (followers, followed_by_me) for whoever is signed in.
  useAsyncEffect(
    () => (session.status === "loading" ? null : api<PublicProfile>(`/users/${encodeURIComponent(username)}`)),
    [username, session.status],
    (value) => {
      setProfile(value);
      setMissing(false);
    },
    (err) => (isNotFound(err) ? setMissing(true) : setError(err)),
  );

  const reloadVods = useAsyncEffect(
    () => api<VodPage>(`/vods?channel=${encodeURIComponent(username)}&limit=12`, { auth: "none" }),
    [username],
    (page) => {
      setVods(page.items);
      setVodCursor(page.next_cursor);
    },
    (err) => {
      if (!isNotFound(err)) setError(err);
      setVods([]);
    },
  );

  // Live or not, every few seconds: notices the channel going live and going offline.
  usePoll(
    async () => {
      try {
        const value = await api<ChannelState>(`/streams/${encodeURIComponent(username)}`, { auth: "none" });
        setState(value);
        if (wasLive.current && !value.live) {
          // The broadcast just ended: its VOD follows shortly.
          reloadVods();
          setTimeout(reloadVods, 4000);
          setTimeout(reloadVods, 12000);
        }
        wasLive.current = value.live;
      } catch (err) {
        if (isNotFound(err)) setMissing(true);
      }
    },
    STATE_POLL_MS,
    !missing,
    [username],
  );

  const moreVods = async () => {
    if (!vodCursor) return;
    const page = await api<VodPage>(
      `/vods?channel=${encodeURIComponent(username)}&limit=12&cursor=${encodeURIComponent(vodCursor)}`,
      { auth: "none" },
    );
    setVods((current) => [...(current ?? []), ...page.items]);
    setVodCursor(page.next_cursor);
  };

  if (missing) {
    return (
      <div className="empty" data-testid="channel-missing">
        <h1>Channel not found</h1>
        <p>
          There is no channel called <strong>{username}</strong>. <Link href="/">Browse live channels</Link>
        </p>
      </div>
    );
  }

  const live = state?.live === true;
  const name = profile?.display_name || username;
  return (
    <div className="channel-layout">
      <div>
        <Player
          src={live ? (state?.playback_url ?? null) : null}
          live
          offlineText={state ? `${name} is offline` : "Loading…"}
        />
        <div className="channel-info">
          <div className={`avatar ${live ? "avatar-live" : ""}`}>
            {profile?.avatar_url ? (
              // eslint-disable-next-line @next/next/no-img-element -- static export
              <img src={profile.avatar_url} alt="" />
            ) : (
              name.slice(0, 1).toUpperCase()
            )}
          </div>
          <div className="channel-text">
            <div className="form-row">
              <span className="channel-name">{name}</span>
              {state && <LiveBadge live={live} />}
            </div>
            <div className="channel-title" data-testid="channel-title">
              {state?.title || (live ? "Untitled stream" : "")}
            </div>
            <div className="card-meta">
              {state?.category && <span className="pill">{state.category}</span>}
              {live && <span data-testid="viewer-count">{formatCount(state?.viewer_count ?? 0)} viewers</span>}
              {live && state?.started_at && <span>live for {liveFor(state.started_at)}</span>}
            </div>
          </div>
          {profile && (
            <FollowButton
              username={username}
              following={profile.followed_by_me === true}
              followers={profile.followers_count}
              onChange={(follow) =>
                setProfile((p) => p && { ...p, followed_by_me: follow.following, followers_count: follow.followers_count })
              }
            />
          )}
        </div>
        <ErrorBox error={error} testId="channel-error" />
        {profile?.bio && (
          <section className="section panel">
            <h3>About {name}</h3>
            <p style={{ whiteSpace: "pre-wrap", margin: 0 }}>{profile.bio}</p>
          </section>
        )}
        <section className="section">
          <div className="section-head">
            <h2>Past broadcasts</h2>
          </div>
          {vods === null && <div className="muted">Loading…</div>}
          {vods?.length === 0 && <div className="muted">No past broadcasts yet.</div>}
          <div className="grid">
            {vods?.map((vod) => (
              <VodCard key={vod.vod_id} vod={vod} />
            ))}
          </div>
          {vodCursor && (
            <div style={{ textAlign: "center", marginTop: 16 }}>
              <button className="btn" type="button" onClick={() => void moreVods().catch(setError)}>
                Load more
              </button>
            </div>
          )}
        </section>
      </div>
      <Chat room={room} channel={username} />
    </div>
  );
}

function ChannelPage() {
  const username = (useSearchParams().get("u") ?? "").trim().toLowerCase();
  if (!username) {
    return (
      <div className="empty">
        <h1>No channel given</h1>
        <p>
          <Link href="/">Browse live channels</Link>
        </p>
      </div>
    );
  }
  return <Channel key={username} username={username} />;
}

export default function Page() {
  return (
    <Suspense fallback={<div className="page-loading">Loading…</div>}>
      <ChannelPage />
    </Suspense>
  );
}

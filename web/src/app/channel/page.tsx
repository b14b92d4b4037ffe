"use client";

import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense, useRef, useState } from "react";

import Chat from "@/components/Chat";
import ClipButton from "@/components/ClipButton";
import ClipCard from "@/components/ClipCard";
import ErrorBox from "@/components/ErrorBox";
import LiveBadge from "@/components/LiveBadge";
import FollowButton from "@/components/FollowButton";
import Player from "@/components/Player";
import { TabList, TabPanel, type TabSpec } from "@/components/Tabs";
import VodCard from "@/components/VodCard";
import { api, isNotFound } from "@/lib/api";
import { useChatRoom } from "@/lib/chat";
import { formatCount, liveFor } from "@/lib/format";
import type { ChannelState, Clip, ClipList, ClipPage, PublicProfile, Vod, VodPage } from "@/lib/types";
import { useAction } from "@/lib/useAction";
import { useAsyncEffect } from "@/lib/useAsyncEffect";
import { usePoll } from "@/lib/usePoll";
import { useSession } from "@/lib/useSession";

const STATE_POLL_MS = 5000;
const CLIPS_PAGE = 12;

const clipsPath = (username: string, cursor: string | null) =>
  `/clips?channel=${encodeURIComponent(username)}&limit=${CLIPS_PAGE}` +
  (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
const topClipsPath = (username: string) => `/clips/top?channel=${encodeURIComponent(username)}&limit=${CLIPS_PAGE}`;

type ClipsTab = "new" | "top";
const CLIPS_TABS: readonly TabSpec<ClipsTab>[] = [
  { key: "new", label: "Newest", testId: "clips-tab-new" },
  { key: "top", label: "Most viewed", testId: "clips-tab-top" },
];

/** A list of clips: loading (null), empty, or their cards. */
function ClipGrid({ clips }: { clips: Clip[] | null }) {
  return (
    <>
      {clips === null && <div className="muted">Loading…</div>}
      {clips?.length === 0 && (
        <div className="muted" data-testid="clips-empty">
          No clips yet.
        </div>
      )}
      <div className="grid">
        {clips?.map((clip) => (
          <ClipCard key={clip.clip_id} clip={clip} />
        ))}
      </div>
    </>
  );
}

function Channel({ username }: { username: string }) {
  const session = useSession();
  const [profile, setProfile] = useState<PublicProfile | null>(null);
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [state, setState] = useState<ChannelState | null>(null);
  const [vods, setVods] = useState<Vod[] | null>(null);
  const [vodCursor, setVodCursor] = useState<string | null>(null);
  const [clips, setClips] = useState<Clip[] | null>(null);
  const [clipCursor, setClipCursor] = useState<string | null>(null);
  const clipsAction = useAction();
  const [clipsTab, setClipsTab] = useState<ClipsTab>("new");
  const [topClips, setTopClips] = useState<Clip[] | null>(null);
  const [topError, setTopError] = useState<unknown>(null);
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

  // The newest clips (a page at a time, "Load more" follows the cursor).
  useAsyncEffect(
    () => api<ClipPage>(clipsPath(username, null), { auth: "none" }),
    [username],
    (page) => {
      setClips(page.items);
      setClipCursor(page.next_cursor);
    },
    (err) => {
      if (!isNotFound(err)) clipsAction.setError(err);
      setClips([]);
    },
  );

  const moreClips = () =>
    void clipsAction.run(async () => {
      if (!clipCursor) return;
      const page = await api<ClipPage>(clipsPath(username, clipCursor), { auth: "none" });
      setClips((current) => [...(current ?? []), ...page.items]);
      setClipCursor(page.next_cursor);
    });

  // The most viewed clips (one page): loaded each time their tab is chosen (views change),
  // showing the last answer meanwhile.
  useAsyncEffect(
    () => (clipsTab === "top" ? api<ClipList>(topClipsPath(username), { auth: "none" }) : null),
    [username, clipsTab],
    (list) => {
      setTopClips(list.items);
      setTopError(null);
    },
    (err) => {
      if (!isNotFound(err)) setTopError(err);
      setTopClips((current) => current ?? []);
    },
  );

  // A clip made here (the player's Clip button) is the newest, whichever tab is shown.
  const addClip = (clip: Clip) =>
    setClips((current) => current && [clip, ...current.filter((c) => c.clip_id !== clip.clip_id)]);

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
  const broadcastId = live ? (state?.broadcast_id ?? null) : null;
  const name = profile?.display_name || username;
  return (
    <div className="channel-layout">
      <div>
        <Player
          src={live ? (state?.playback_url ?? null) : null}
          live
          offlineText={state ? `${name} is offline` : "Loading…"}
          actions={
            broadcastId &&
            session.status === "signed-in" && (
              <ClipButton key={broadcastId} broadcastId={broadcastId} onCreated={addClip} />
            )
          }
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
        <section className="section" aria-labelledby="channel-clips">
          <div className="section-head">
            <h2 id="channel-clips">Clips</h2>
            <TabList
              idPrefix="channel-clips"
              labelledBy="channel-clips"
              tabs={CLIPS_TABS}
              selected={clipsTab}
              onSelect={setClipsTab}
            />
          </div>
          <TabPanel idPrefix="channel-clips" tabKey="new" selected={clipsTab}>
            <ClipGrid clips={clips} />
            <ErrorBox error={clipsAction.error} testId="clips-error" />
            {clipCursor && (
              <div style={{ textAlign: "center", marginTop: 16 }}>
                <button
                  className="btn"
                  type="button"
                  data-testid="clips-more"
                  disabled={clipsAction.busy}
                  onClick={moreClips}
                >
                  {clipsAction.busy ? "Loading…" : "Load more"}
                </button>
              </div>
            )}
          </TabPanel>
          <TabPanel idPrefix="channel-clips" tabKey="top" selected={clipsTab}>
            <ClipGrid clips={topClips} />
            <ErrorBox error={topError} testId="clips-error" />
          </TabPanel>
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

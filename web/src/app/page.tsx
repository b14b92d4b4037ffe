"use client";

import Link from "next/link";
import { useCallback, useState } from "react";

import ErrorBox from "@/components/ErrorBox";
import LiveCard from "@/components/LiveCard";
import { api } from "@/lib/api";
import { channelHref } from "@/lib/format";
import type { ChannelState, FollowEntry, FollowPage, LiveChannel, LivePage } from "@/lib/types";
import { usePoll } from "@/lib/usePoll";
import { useSession } from "@/lib/useSession";

const PAGE_SIZE = 24;
const FOLLOWED_CHECKED = 40;

interface Followed {
  entry: FollowEntry;
  state: ChannelState | null;
}

function asLive(state: ChannelState): LiveChannel {
  return {
    username: state.username,
    title: state.title,
    category: state.category,
    tags: state.tags,
    viewer_count: state.viewer_count,
    thumbnail_url: state.thumbnail_url,
    started_at: state.started_at ?? new Date().toISOString(),
    playback_url: state.playback_url ?? "",
  };
}

function FollowedChannels({ username }: { username: string }) {
  const [followed, setFollowed] = useState<Followed[] | null>(null);
  usePoll(
    async () => {
      const page = await api<FollowPage>(`/users/${encodeURIComponent(username)}/following?limit=100`);
      const entries = page.items.slice(0, FOLLOWED_CHECKED);
      const states = await Promise.all(
        entries.map((entry) =>
          api<ChannelState>(`/streams/${encodeURIComponent(entry.username)}`, { auth: "none" }).catch(() => null),
        ),
      );
      setFollowed(entries.map((entry, i) => ({ entry, state: states[i] ?? null })));
    },
    30_000,
    true,
    [username],
  );
  if (!followed || followed.length === 0) return null;
  const live = followed.filter((f) => f.state?.live);
  const offline = followed.filter((f) => !f.state?.live);
  return (
    <section className="section" data-testid="followed-channels">
      <div className="section-head">
        <h2>Followed channels</h2>
        <span className="muted">{live.length} live</span>
      </div>
      {live.length > 0 && (
        <div className="grid" style={{ marginBottom: 14 }}>
          {live.map((f) => f.state && <LiveCard key={f.entry.username} channel={asLive(f.state)} />)}
        </div>
      )}
      {offline.length > 0 && (
        <div className="chips">
          {offline.map((f) => (
            <Link key={f.entry.username} href={channelHref(f.entry.username)} className="chip">
              <span className="dot" /> {f.entry.display_name || f.entry.username}
              <span className="muted">offline</span>
            </Link>
          ))}
        </div>
      )}
    </section>
  );
}

export default function Home() {
  const session = useSession();
  const [channels, setChannels] = useState<LiveChannel[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [extraPages, setExtraPages] = useState(0);
  const [loaded, setLoaded] = useState(false);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<unknown>(null);

  // The first page stays fresh (every 10 s) until the reader loads more.
  usePoll(
    async () => {
      try {
        const page = await api<LivePage>(`/streams/live?limit=${PAGE_SIZE}`, { auth: "none" });
        setChannels(page.items);
        setCursor(page.next_cursor);
        setError(null);
      } catch (err) {
        setError(err);
      } finally {
        setLoaded(true);
      }
    },
    10_000,
    extraPages === 0,
  );

  const loadMore = useCallback(async () => {
    if (!cursor) return;
    setLoadingMore(true);
    try {
      const page = await api<LivePage>(
        `/streams/live?limit=${PAGE_SIZE}&cursor=${encodeURIComponent(cursor)}`,
        { auth: "none" },
      );
      setChannels((current) => {
        const seen = new Set(current.map((c) => c.username));
        return [...current, ...page.items.filter((c) => !seen.has(c.username))];
      });
      setCursor(page.next_cursor);
      setExtraPages((n) => n + 1);
    } catch (err) {
      setError(err);
    } finally {
      setLoadingMore(false);
    }
  }, [cursor]);

  return (
    <>
      {session.status === "signed-in" && <FollowedChannels username={session.username} />}
      <section className="section">
        <div className="section-head">
          <h1>Live channels</h1>
          {loaded && <span className="muted">{channels.length} live now</span>}
        </div>
        <ErrorBox error={error} testId="home-error" />
        {!loaded && <div className="page-loading">Loading…</div>}
        {loaded && !error && channels.length === 0 && (
          <div className="empty" data-testid="home-empty">
            <h2>Nobody is live right now</h2>
            <p>
              Be the first: open your <Link href="/dashboard/">creator dashboard</Link>, create a stream key and point
              OBS at the ingest server.
            </p>
          </div>
        )}
        <div className="grid">
          {channels.map((channel) => (
            <LiveCard key={channel.username} channel={channel} />
          ))}
        </div>
        {cursor && (
          <div style={{ textAlign: "center", marginTop: 20 }}>
            <button className="btn" type="button" onClick={() => void loadMore()} disabled={loadingMore}>
              {loadingMore ? "Loading…" : "Load more"}
            </button>
          </div>
        )}
      </section>
    </>
  );
}

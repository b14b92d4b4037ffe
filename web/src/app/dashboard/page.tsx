"use client";

import Link from "next/link";
import { useCallback, useEffect, useRef, useState } from "react";

import Chat from "@/components/Chat";
import ChatSettings from "@/components/dashboard/ChatSettings";
import Health from "@/components/dashboard/Health";
import StreamInfo from "@/components/dashboard/StreamInfo";
import StreamSetup from "@/components/dashboard/StreamSetup";
import VodManager from "@/components/dashboard/VodManager";
import ErrorBox from "@/components/ErrorBox";
import LiveBadge from "@/components/LiveBadge";
import Player from "@/components/Player";
import RequireSignIn from "@/components/RequireSignIn";
import { api } from "@/lib/api";
import { useChatRoom } from "@/lib/chat";
import { channelHref } from "@/lib/format";
import type { ChannelState, MyChannel } from "@/lib/types";
import { usePoll } from "@/lib/usePoll";

function Dashboard({ username }: { username: string }) {
  const [mine, setMine] = useState<MyChannel | null>(null);
  const [state, setState] = useState<ChannelState | null>(null);
  const [latency, setLatency] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [vodsVersion, setVodsVersion] = useState(0);
  const wasLive = useRef<boolean | null>(null);
  const room = useChatRoom(username);

  const loadMine = useCallback(async () => {
    try {
      setMine(await api<MyChannel>("/streams/me", { auth: "required" }));
    } catch (err) {
      setError(err);
    }
  }, []);

  useEffect(() => {
    void loadMine();
  }, [loadMine]);

  // The public state drives the preview and the viewer count; a broadcast that ends adds a VOD.
  usePoll(async () => {
    const value = await api<ChannelState>(`/streams/${encodeURIComponent(username)}`, { auth: "none" });
    setState(value);
    if (wasLive.current && !value.live) {
      setTimeout(() => setVodsVersion((n) => n + 1), 3000);
      setTimeout(() => setVodsVersion((n) => n + 1), 12000);
    }
    wasLive.current = value.live;
  }, 5000);

  const live = state?.live === true;
  return (
    <>
      <div className="section-head">
        <h1>Creator dashboard</h1>
        <Link href={channelHref(username)} data-testid="own-channel-link">
          View your channel →
        </Link>
      </div>
      <ErrorBox error={error} testId="dashboard-error" />
      <div className="dash-grid">
        <div className="dash-col">
          <section className="panel">
            <div className="section-head">
              <h2>Live preview</h2>
              {state && <LiveBadge live={live} />}
            </div>
            <Player
              src={live ? (state?.playback_url ?? null) : null}
              live
              offlineText="You are offline"
              onLatency={setLatency}
            />
          </section>
          <Health viewers={live ? (state?.viewer_count ?? 0) : null} latency={latency} />
          {mine && <StreamInfo channel={mine} onSaved={setMine} />}
          <VodManager username={username} refreshKey={vodsVersion} />
        </div>
        <div className="dash-col">
          <StreamSetup hasKey={mine?.has_key ?? false} onCreated={() => void loadMine()} />
          <Chat room={room} channel={username} compact />
          <ChatSettings channel={username} room={room} />
        </div>
      </div>
    </>
  );
}

export default function DashboardPage() {
  return <RequireSignIn next="/dashboard/">{(username) => <Dashboard username={username} />}</RequireSignIn>;
}

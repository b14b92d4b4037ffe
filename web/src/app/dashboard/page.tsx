"use client";

import Link from "next/link";
import { useEffect, useRef, useState } from "react";

import Chat from "@/components/Chat";
import ChatSettings from "@/components/dashboard/ChatSettings";
import Destinations from "@/components/dashboard/Destinations";
import Health from "@/components/dashboard/Health";
import Preview from "@/components/dashboard/Preview";
import StreamInfo from "@/components/dashboard/StreamInfo";
import StreamSetup from "@/components/dashboard/StreamSetup";
import { useLiveSession } from "@/components/dashboard/useLiveSession";
import VodManager from "@/components/dashboard/VodManager";
import ErrorBox from "@/components/ErrorBox";
import RequireSignIn from "@/components/RequireSignIn";
import { api } from "@/lib/api";
import { useChatRoom } from "@/lib/chat";
import { channelHref } from "@/lib/format";
import type { MyChannel } from "@/lib/types";
import { useAsyncEffect } from "@/lib/useAsyncEffect";

// After a broadcast ends its VOD is written asynchronously: look again a little later.
const VOD_REFRESH_MS = [3000, 12000];

function Dashboard({ username }: { username: string }) {
  const [mine, setMine] = useState<MyChannel | null>(null);
  const [latency, setLatency] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [vodsVersion, setVodsVersion] = useState(0);
  const wasLive = useRef(false);
  const room = useChatRoom(username);
  // One poll says whether we are live; the preview, its badge, the health card and the restream
  // card all show it.
  const session = useLiveSession();

  const reloadMine = useAsyncEffect(() => api<MyChannel>("/streams/me", { auth: "required" }), [], setMine, setError);

  useEffect(() => {
    if (session.liveness === "checking") return;
    const live = session.liveness === "live";
    const ended = wasLive.current && !live;
    wasLive.current = live;
    if (!ended) return;
    const timers = VOD_REFRESH_MS.map((ms) => setTimeout(() => setVodsVersion((n) => n + 1), ms));
    return () => timers.forEach(clearTimeout);
  }, [session.liveness]);

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
          <Preview session={session} onLatency={setLatency} />
          <Health session={session} latency={latency} />
          {mine && <StreamInfo channel={mine} onSaved={setMine} />}
          <VodManager username={username} refreshKey={vodsVersion} />
        </div>
        <div className="dash-col">
          <StreamSetup channel={mine} onCreated={reloadMine} />
          <Destinations session={session} />
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

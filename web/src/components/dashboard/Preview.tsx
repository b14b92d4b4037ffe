"use client";

import { useEffect } from "react";

import type { LiveSession } from "@/components/dashboard/useLiveSession";
import LiveBadge from "@/components/LiveBadge";
import Player from "@/components/Player";

const WAITING_TEXT = { checking: "Checking…", live: "Starting…", offline: "You are offline" } as const;

/** The streamer's own stream, from the same session as the health card: the player once the
 *  playlist is playable, "Starting…" while live before that, "offline" only when the API says so. */
export default function Preview({
  session,
  onLatency,
}: {
  session: LiveSession;
  onLatency: (seconds: number | null) => void;
}) {
  const { liveness, report, playable } = session;

  useEffect(() => {
    if (!playable) onLatency(null); // the player that measured it is gone
  }, [playable, onLatency]);

  return (
    <section className="panel">
      <div className="section-head">
        <h2>Live preview</h2>
        {liveness !== "checking" && <LiveBadge live={liveness === "live"} />}
      </div>
      {playable && report ? (
        <Player src={report.playback_url} live offlineText={WAITING_TEXT.offline} onLatency={onLatency} />
      ) : (
        // The player's offline look, without its state bar: nothing is loading yet.
        <div className="player" data-state={liveness === "live" ? "starting" : liveness}>
          <div className="player-screen">
            <div className="player-overlay">
              <div className="player-offline" data-testid="preview-status">
                {WAITING_TEXT[liveness]}
              </div>
              {liveness === "live" && <p className="muted">You are live: waiting for the first video segment.</p>}
            </div>
          </div>
        </div>
      )}
    </section>
  );
}

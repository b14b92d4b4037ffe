import { useState } from "react";

import { api, isNotFound } from "@/lib/api";
import type { StreamHealthReport } from "@/lib/types";
import { usePoll } from "@/lib/usePoll";

const POLL_MS = 2000;

export type Liveness = "checking" | "live" | "offline";

export interface LiveSession {
  /** "checking" until the API has answered once: never shown as offline. */
  liveness: Liveness;
  /** The worker's last report while live, else null. */
  report: StreamHealthReport | null;
  /** Live and a segment has been stored, so the playlist can be played. */
  playable: boolean;
  /** The last poll's failure (the state above is then the last known one), else null. */
  error: unknown;
}

const CHECKING: LiveSession = { liveness: "checking", report: null, playable: false, error: null };

/** The streamer's one source of truth about being live: `GET /streams/me/health` every 2 s
 *  (200: live, with the report; 404 `not-live`: offline). The preview, the badge and the health
 *  card all read it, so they cannot disagree, and a failed poll changes nothing but `error`. */
export function useLiveSession(): LiveSession {
  const [session, setSession] = useState<LiveSession>(CHECKING);

  usePoll(async () => {
    try {
      const report = await api<StreamHealthReport>("/streams/me/health", { auth: "required" });
      setSession((previous) => ({
        liveness: "live",
        report,
        // Once a broadcast has had a segment it stays playable (a resume clears the report).
        playable:
          report.last_segment_at !== null ||
          (previous.playable && previous.report?.broadcast_id === report.broadcast_id),
        error: null,
      }));
    } catch (err) {
      if (isNotFound(err)) setSession({ liveness: "offline", report: null, playable: false, error: null });
      else setSession((previous) => ({ ...previous, error: err }));
    }
  }, POLL_MS);

  return session;
}

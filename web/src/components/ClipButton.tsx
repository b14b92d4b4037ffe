"use client";

import Link from "next/link";
import { useState } from "react";

import ErrorBox from "@/components/ErrorBox";
import { ScissorsIcon } from "@/components/Icons";
import { api } from "@/lib/api";
import { clipHref } from "@/lib/format";
import type { Clip, ClipRequest } from "@/lib/types";
import { useAction } from "@/lib/useAction";

/** One click clips this many of the live broadcast's last seconds. */
export const LIVE_CLIP_SECONDS = 30;

/** A clip just made: a link to its page (`clip-created`, `data-clip-id`). */
export function ClipCreated({ clip }: { clip: Clip }) {
  return (
    <span className="clip-created">
      Clip made:{" "}
      <Link href={clipHref(clip.clip_id)} data-testid="clip-created" data-clip-id={clip.clip_id}>
        {clip.title || "watch it"}
      </Link>
    </span>
  );
}

/** The player's Clip button on a live channel (signed-in viewers): the broadcast's last
 *  `LIVE_CLIP_SECONDS` (`POST /clips` without `start_seconds`), then a link to the clip, or the
 *  problem (a range not recorded yet, the rate limit with its wait). */
export default function ClipButton({
  broadcastId,
  onCreated,
}: {
  broadcastId: string;
  onCreated?: (clip: Clip) => void;
}) {
  const [clip, setClip] = useState<Clip | null>(null);
  const { busy, error, run } = useAction();

  const make = () => {
    setClip(null);
    void run(async () => {
      const created = await api<Clip>("/clips", {
        method: "POST",
        body: { broadcast_id: broadcastId, seconds: LIVE_CLIP_SECONDS } satisfies ClipRequest,
        auth: "required",
      });
      setClip(created);
      onCreated?.(created);
    });
  };

  return (
    <>
      <button
        className="btn btn-small"
        type="button"
        data-testid="clip-button"
        title={`Clip the last ${LIVE_CLIP_SECONDS} seconds`}
        disabled={busy}
        onClick={make}
      >
        <ScissorsIcon /> {busy ? "Clipping…" : "Clip"}
      </button>
      <span role="status">{clip && <ClipCreated clip={clip} />}</span>
      <ErrorBox error={error} testId="clip-error" />
    </>
  );
}

import Link from "next/link";

import { ScissorsIcon } from "@/components/Icons";
import { clipHref, formatCount, formatDuration, timeAgo } from "@/lib/format";
import type { Clip } from "@/lib/types";

export default function ClipCard({ clip }: { clip: Clip }) {
  return (
    <Link href={clipHref(clip.clip_id)} className="card" data-testid="clip-card" data-clip-id={clip.clip_id}>
      <div className="thumb">
        <div className="thumb-placeholder">
          <ScissorsIcon size={44} />
        </div>
        <span className="thumb-duration">{formatDuration(clip.duration_seconds)}</span>
        <span className="thumb-viewers">
          {formatCount(clip.views)} {clip.views === 1 ? "view" : "views"}
        </span>
      </div>
      <div className="card-body">
        <div className="card-title" title={clip.title}>
          {clip.title || "Untitled clip"}
        </div>
        <div className="card-meta">
          <span>clipped by {clip.creator}</span>
          <span title={clip.created_at}>{timeAgo(clip.created_at)}</span>
        </div>
      </div>
    </Link>
  );
}

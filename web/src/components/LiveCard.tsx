import Link from "next/link";

import { channelHref, formatCount, timeAgo } from "@/lib/format";
import type { LiveChannel } from "@/lib/types";

export default function LiveCard({ channel }: { channel: LiveChannel }) {
  return (
    <Link href={channelHref(channel.username)} className="card" data-testid="live-card" data-username={channel.username}>
      <div className="thumb">
        {channel.thumbnail_url ? (
          // eslint-disable-next-line @next/next/no-img-element -- static export: no image optimization
          <img src={channel.thumbnail_url} alt="" loading="lazy" />
        ) : (
          <div className="thumb-placeholder">{channel.username.slice(0, 1).toUpperCase()}</div>
        )}
        <span className="tag-live">LIVE</span>
        <span className="thumb-viewers">{formatCount(channel.viewer_count)} viewers</span>
      </div>
      <div className="card-body">
        <div className="card-title" title={channel.title}>
          {channel.title || "Untitled stream"}
        </div>
        <div className="card-sub">{channel.username}</div>
        <div className="card-meta">
          {channel.category && <span className="pill">{channel.category}</span>}
          <span>started {timeAgo(channel.started_at)}</span>
        </div>
      </div>
    </Link>
  );
}

import Link from "next/link";

import { formatDate, formatDuration, vodHref } from "@/lib/format";
import type { Vod } from "@/lib/types";

export default function VodCard({ vod, onDelete }: { vod: Vod; onDelete?: (vod: Vod) => void }) {
  return (
    <div className="card vod-card" data-testid="vod-card" data-vod-id={vod.vod_id}>
      <Link href={vodHref(vod.vod_id)} className="card-link">
        <div className="thumb">
          {vod.thumbnail_url ? (
            // eslint-disable-next-line @next/next/no-img-element -- static export: no image optimization
            <img src={vod.thumbnail_url} alt="" loading="lazy" />
          ) : (
            <div className="thumb-placeholder">▶</div>
          )}
          <span className="thumb-duration">{formatDuration(vod.duration_seconds)}</span>
        </div>
        <div className="card-body">
          <div className="card-title" title={vod.title}>
            {vod.title || "Untitled broadcast"}
          </div>
          <div className="card-meta">
            {vod.category && <span className="pill">{vod.category}</span>}
            <span>{formatDate(vod.started_at)}</span>
          </div>
        </div>
      </Link>
      {onDelete && (
        <button type="button" className="btn btn-small btn-danger vod-delete" onClick={() => onDelete(vod)}>
          Delete
        </button>
      )}
    </div>
  );
}

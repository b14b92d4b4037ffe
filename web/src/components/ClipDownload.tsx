import { DownloadIcon } from "@/components/Icons";
import { formatMegabytes } from "@/lib/format";
import type { ClipDownload as Download } from "@/lib/types";

/** Whether the clip's MP4 is still being made (`pending` or `remuxing`): the page re-reads the
 *  clip meanwhile. */
export const isPreparing = (download: Download) => download.state === "pending" || download.state === "remuxing";

/** The clip's MP4 (`Clip.download`): its preparation's progress, then a link to it (an
 *  attachment), or why it could not be made and, for those who manage the clip (`onRetry`), a
 *  button to make it again. Shows what it is given: the clip page re-reads the clip while it is
 *  being prepared. */
export default function ClipDownload({
  download,
  onRetry,
  retrying = false,
}: {
  download: Download;
  onRetry?: () => void;
  retrying?: boolean;
}) {
  const progress = Math.min(1, Math.max(0, download.progress));
  const label = `Preparing MP4… ${Math.round(progress * 100)} %`;
  return (
    <div className="clip-download" data-testid="clip-download" data-state={download.state}>
      {isPreparing(download) && (
        <div className="clip-download-progress">
          <span>{label}</span>
          <progress data-testid="clip-download-progress" max={1} value={progress} aria-label={label} />
        </div>
      )}
      {download.state === "ready" && download.url && (
        <a className="btn btn-primary" data-testid="clip-download-link" href={download.url} download>
          <DownloadIcon /> Download MP4{download.size_bytes !== null && ` (${formatMegabytes(download.size_bytes)})`}
        </a>
      )}
      {download.state === "failed" && (
        <div className="error-box" data-testid="clip-download-failed">
          The MP4 could not be made{download.reason ? `: ${download.reason}` : "."}
          {onRetry && (
            <button
              type="button"
              className="btn"
              data-testid="clip-download-retry"
              disabled={retrying}
              onClick={onRetry}
            >
              {retrying ? "Starting…" : "Try again"}
            </button>
          )}
        </div>
      )}
    </div>
  );
}

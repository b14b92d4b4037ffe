/** LIVE / OFFLINE next to a channel's name (channel page, dashboard). */
export default function LiveBadge({ live }: { live: boolean }) {
  return live ? (
    <span className="status-live" data-testid="channel-live">
      LIVE
    </span>
  ) : (
    <span className="status-offline" data-testid="channel-offline">
      OFFLINE
    </span>
  );
}

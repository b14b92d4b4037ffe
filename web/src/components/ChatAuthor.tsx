import { CameraIcon, ShieldIcon } from "@/components/Icons";
import type { Badge } from "@/lib/types";

const NAME_COLORS = ["#ff7f50", "#9acd32", "#1e90ff", "#ff69b4", "#daa520", "#00ced1", "#ba55d3", "#3cb371"];

function nameColor(user: string): string {
  let hash = 0;
  for (const ch of user) hash = (hash * 31 + ch.charCodeAt(0)) | 0;
  return NAME_COLORS[Math.abs(hash) % NAME_COLORS.length] ?? "#bf94ff";
}

/** Who wrote a chat message, as the live chat and its replay show it: badges, then the name. */
export default function ChatAuthor({
  user,
  displayName,
  badges,
}: {
  user: string;
  displayName: string;
  badges: readonly Badge[];
}) {
  return (
    <>
      {badges.map((badge) => (
        <span key={badge} className={`badge badge-${badge}`} title={badge} data-badge={badge}>
          {badge === "broadcaster" ? <CameraIcon size={12} /> : <ShieldIcon size={12} />}
        </span>
      ))}
      <span className="chat-name" style={{ color: nameColor(user) }} title={user}>
        {displayName || user}
      </span>
      <span className="chat-colon">: </span>
    </>
  );
}

"use client";

import { useRouter } from "next/navigation";

import ErrorBox from "@/components/ErrorBox";
import { HeartIcon } from "@/components/Icons";
import { api } from "@/lib/api";
import { formatCount } from "@/lib/format";
import type { FollowState } from "@/lib/types";
import { useAction } from "@/lib/useAction";
import { useSession } from "@/lib/useSession";

export default function FollowButton({
  username,
  following,
  followers,
  onChange,
}: {
  username: string;
  following: boolean;
  followers: number;
  onChange: (state: FollowState) => void;
}) {
  const session = useSession();
  const router = useRouter();
  const { busy, error, run } = useAction();
  const own = session.status === "signed-in" && session.username === username;

  const toggle = () => {
    if (session.status !== "signed-in") {
      router.push(`/login/?next=${encodeURIComponent(`/channel/?u=${username}`)}`);
      return;
    }
    void run(async () => {
      const state = await api<FollowState>(`/users/${encodeURIComponent(username)}/follow`, {
        method: following ? "DELETE" : "PUT",
        auth: "required",
      });
      onChange(state);
    });
  };

  return (
    <div className="follow-box">
      {!own && (
        <button
          type="button"
          className={`btn ${following ? "" : "btn-primary"}`}
          data-testid="follow-button"
          data-following={following}
          disabled={busy || session.status === "loading"}
          onClick={toggle}
        >
          <HeartIcon filled={following} /> {following ? "Following" : "Follow"}
        </button>
      )}
      <span className="muted">
        <span data-testid="follower-count" data-count={followers}>
          {formatCount(followers)}
        </span>{" "}
        {followers === 1 ? "follower" : "followers"}
      </span>
      <ErrorBox error={error} testId="follow-error" />
    </div>
  );
}

"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";

import ErrorBox from "@/components/ErrorBox";
import { HeartIcon } from "@/components/Icons";
import { api } from "@/lib/api";
import { formatCount } from "@/lib/format";
import type { FollowState } from "@/lib/types";
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
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const own = session.status === "signed-in" && session.username === username;

  const toggle = async () => {
    if (session.status !== "signed-in") {
      router.push(`/login/?next=${encodeURIComponent(`/channel/?u=${username}`)}`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const state = await api<FollowState>(`/users/${encodeURIComponent(username)}/follow`, {
        method: following ? "DELETE" : "PUT",
        auth: "required",
      });
      onChange(state);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
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
          onClick={() => void toggle()}
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

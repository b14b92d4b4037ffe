"use client";

import Link from "next/link";
import { type FormEvent, useState } from "react";

import ErrorBox from "@/components/ErrorBox";
import RequireSignIn from "@/components/RequireSignIn";
import { api } from "@/lib/api";
import { channelHref, formatDate } from "@/lib/format";
import type { FollowEntry, FollowPage, FollowState, Profile, ProfilePatch, PublicProfile } from "@/lib/types";
import { useAction } from "@/lib/useAction";
import { useAsyncEffect } from "@/lib/useAsyncEffect";

function ProfileForm({ username }: { username: string }) {
  const [loaded, setLoaded] = useState(false);
  const [displayName, setDisplayName] = useState("");
  const [bio, setBio] = useState("");
  const [avatar, setAvatar] = useState("");
  const [saved, setSaved] = useState(false);
  const { busy, error, setError, run } = useAction();

  useAsyncEffect(
    () => api<PublicProfile>(`/users/${encodeURIComponent(username)}`),
    [username],
    (profile) => {
      setDisplayName(profile.display_name);
      setBio(profile.bio);
      setAvatar(profile.avatar_url ?? "");
      setLoaded(true);
    },
    setError,
  );

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    void run(async () => {
      const profile = await api<Profile>("/users/me", {
        method: "PATCH",
        body: { display_name: displayName, bio, avatar_url: avatar.trim() || null } satisfies ProfilePatch,
        auth: "required",
      });
      setDisplayName(profile.display_name);
      setBio(profile.bio);
      setAvatar(profile.avatar_url ?? "");
      setSaved(true);
    });
  };

  return (
    <section className="panel">
      <h2>Profile</h2>
      <form className="form" onSubmit={submit}>
        <label>
          Display name
          <input
            data-testid="profile-display-name"
            value={displayName}
            maxLength={40}
            disabled={!loaded}
            onChange={(event) => setDisplayName(event.target.value)}
          />
        </label>
        <label>
          Bio
          <textarea
            data-testid="profile-bio"
            value={bio}
            rows={4}
            maxLength={300}
            disabled={!loaded}
            onChange={(event) => setBio(event.target.value)}
          />
          <span className="hint">{bio.length}/300</span>
        </label>
        <label>
          Avatar URL
          <input
            data-testid="profile-avatar"
            value={avatar}
            type="url"
            placeholder="https://…"
            disabled={!loaded}
            onChange={(event) => setAvatar(event.target.value)}
          />
          <span className="hint">An https address of an image; empty removes it.</span>
        </label>
        <ErrorBox error={error} />
        <div className="form-row">
          <button className="btn btn-primary" type="submit" data-testid="profile-save" disabled={busy || !loaded}>
            {busy ? "Saving…" : "Save profile"}
          </button>
          {saved && (
            <span className="muted" data-testid="profile-saved">
              Saved.
            </span>
          )}
        </div>
      </form>
    </section>
  );
}

/** A page of the channels `username` follows. */
const following = (username: string, after: string | null) =>
  api<FollowPage>(
    `/users/${encodeURIComponent(username)}/following?limit=50${after ? `&cursor=${encodeURIComponent(after)}` : ""}`,
  );

function Following({ username }: { username: string }) {
  const [entries, setEntries] = useState<FollowEntry[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  useAsyncEffect(
    () => following(username, null),
    [username],
    (page) => {
      setEntries(page.items);
      setCursor(page.next_cursor);
    },
    setError,
  );

  const more = async (after: string) => {
    try {
      const page = await following(username, after);
      setEntries((current) => [...(current ?? []), ...page.items]);
      setCursor(page.next_cursor);
    } catch (err) {
      setError(err);
    }
  };

  const unfollow = async (user: string) => {
    try {
      await api<FollowState>(`/users/${encodeURIComponent(user)}/follow`, { method: "DELETE", auth: "required" });
      setEntries((current) => current?.filter((e) => e.username !== user) ?? null);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="panel">
      <h2>Following</h2>
      <ErrorBox error={error} testId="following-error" />
      {entries?.length === 0 && (
        <p className="muted">
          You do not follow anyone yet. <Link href="/">Find channels</Link>
        </p>
      )}
      <ul className="list">
        {entries?.map((entry) => (
          <li key={entry.username} data-testid="following-entry" data-username={entry.username}>
            <Link href={channelHref(entry.username)} className="spacer">
              {entry.display_name || entry.username}
            </Link>
            <span className="muted">since {formatDate(entry.followed_at)}</span>
            <button type="button" className="btn btn-small" onClick={() => void unfollow(entry.username)}>
              Unfollow
            </button>
          </li>
        ))}
      </ul>
      {cursor && (
        <button type="button" className="btn" style={{ marginTop: 12 }} onClick={() => void more(cursor)}>
          Load more
        </button>
      )}
    </section>
  );
}

export default function SettingsPage() {
  return (
    <RequireSignIn next="/settings/">
      {(username) => (
        <>
          <h1>Settings</h1>
          <div className="dash-grid">
            <ProfileForm username={username} />
            <Following username={username} />
          </div>
        </>
      )}
    </RequireSignIn>
  );
}

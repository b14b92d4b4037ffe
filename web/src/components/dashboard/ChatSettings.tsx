"use client";

import { type FormEvent, useState } from "react";

import ErrorBox from "@/components/ErrorBox";
import { ShieldIcon } from "@/components/Icons";
import { api } from "@/lib/api";
import type { ChatRoom } from "@/lib/chat";
import { formatDate } from "@/lib/format";
import type { RoomSettings } from "@/lib/types";
import { useAsyncEffect } from "@/lib/useAsyncEffect";

const SLOW_CHOICES = [0, 3, 5, 10, 30, 60, 120];

/** Slow mode, moderators and bans: read with `GET /chat/{me}/settings`, changed over the
 *  chat socket (`slow`, `mod`, `unmod`, `unban`); re-read when the room says something changed. */
export default function ChatSettings({ channel, room }: { channel: string; room: ChatRoom }) {
  const [settings, setSettings] = useState<RoomSettings | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [newMod, setNewMod] = useState("");
  const [local, setLocal] = useState("");

  useAsyncEffect(
    () => api<RoomSettings>(`/chat/${encodeURIComponent(channel)}/settings`, { auth: "required" }),
    [channel, room.moderationVersion],
    (value) => {
      setSettings(value);
      setError(null);
    },
    setError,
  );

  const act = (ok: boolean) => setLocal(ok ? "" : "The chat is not connected; try again in a moment.");
  const addMod = (event: FormEvent) => {
    event.preventDefault();
    const user = newMod.trim().toLowerCase();
    if (!user) return;
    act(room.send({ action: "mod", user }));
    setNewMod("");
  };
  const slow = settings?.slow_seconds ?? room.slowSeconds;

  return (
    <section className="panel" data-testid="chat-settings">
      <h2>Chat moderation</h2>
      <ErrorBox error={error} testId="chat-settings-error" />
      {local && <div className="warn-box">{local}</div>}
      <div className="form" style={{ maxWidth: "none" }}>
        <label>
          Slow mode
          <select
            data-testid="slow-mode"
            value={SLOW_CHOICES.includes(slow) ? slow : 0}
            onChange={(event) => act(room.send({ action: "slow", seconds: Number(event.target.value) }))}
          >
            {SLOW_CHOICES.map((seconds) => (
              <option key={seconds} value={seconds}>
                {seconds === 0 ? "Off" : `One message every ${seconds} s`}
              </option>
            ))}
          </select>
        </label>
        <div>
          <h3>Moderators</h3>
          {settings?.moderators.length === 0 && <p className="muted">No moderators.</p>}
          <ul className="list">
            {settings?.moderators.map((user) => (
              <li key={user} data-testid="moderator">
                <ShieldIcon /> <span className="spacer">{user}</span>
                <button
                  type="button"
                  className="btn btn-small"
                  onClick={() => act(room.send({ action: "unmod", user }))}
                >
                  Remove
                </button>
              </li>
            ))}
          </ul>
          <form className="form-row" onSubmit={addMod} style={{ marginTop: 8 }}>
            <input
              placeholder="username"
              value={newMod}
              data-testid="add-moderator"
              onChange={(event) => setNewMod(event.target.value)}
              pattern="[A-Za-z0-9_]{3,25}"
            />
            <button className="btn btn-small" type="submit">
              Make moderator
            </button>
          </form>
        </div>
        <div>
          <h3>Bans and timeouts</h3>
          {settings?.bans.length === 0 && <p className="muted">Nobody is banned.</p>}
          <ul className="list">
            {settings?.bans.map((ban) => (
              <li key={ban.user} data-testid="ban">
                <span className="spacer">
                  <strong>{ban.user}</strong>{" "}
                  <span className="muted">
                    {ban.until ? `timed out until ${formatDate(ban.until)}` : "banned"} by {ban.by}
                  </span>
                </span>
                <button
                  type="button"
                  className="btn btn-small"
                  onClick={() => act(room.send({ action: "unban", user: ban.user }))}
                >
                  {ban.until ? "Lift" : "Unban"}
                </button>
              </li>
            ))}
          </ul>
        </div>
        {settings && <p className="muted">{settings.viewers} connected to the chat now.</p>}
      </div>
    </section>
  );
}

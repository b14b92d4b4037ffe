"use client";

import { type FormEvent, useEffect, useState } from "react";

import ErrorBox from "@/components/ErrorBox";
import { api } from "@/lib/api";
import type { ChannelPatch, MyChannel } from "@/lib/types";
import { useAction } from "@/lib/useAction";

/** Title and category (`PATCH /streams/me`). */
export default function StreamInfo({ channel, onSaved }: { channel: MyChannel; onSaved: (c: MyChannel) => void }) {
  const [title, setTitle] = useState(channel.title);
  const [category, setCategory] = useState(channel.category ?? "");
  const [saved, setSaved] = useState(false);
  const { busy, error, run } = useAction();

  useEffect(() => {
    setTitle(channel.title);
    setCategory(channel.category ?? "");
  }, [channel.title, channel.category]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    void run(async () => {
      const next = await api<MyChannel>("/streams/me", {
        method: "PATCH",
        body: { title: title.trim(), category: category.trim() || null } satisfies ChannelPatch,
        auth: "required",
      });
      onSaved(next);
      setSaved(true);
    });
  };

  return (
    <section className="panel">
      <h2>Stream info</h2>
      <form className="form" onSubmit={submit}>
        <label>
          Title
          <input
            data-testid="stream-title"
            value={title}
            maxLength={140}
            onChange={(event) => setTitle(event.target.value)}
          />
        </label>
        <label>
          Category
          <input
            data-testid="stream-category"
            value={category}
            maxLength={50}
            placeholder="e.g. Just Chatting"
            onChange={(event) => setCategory(event.target.value)}
          />
        </label>
        <ErrorBox error={error} />
        <div className="form-row">
          <button className="btn btn-primary" type="submit" data-testid="stream-info-save" disabled={busy}>
            {busy ? "Saving…" : "Save"}
          </button>
          {saved && <span className="muted">Saved.</span>}
        </div>
      </form>
    </section>
  );
}

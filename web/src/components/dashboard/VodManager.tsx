"use client";

import { useState } from "react";

import ErrorBox from "@/components/ErrorBox";
import VodCard from "@/components/VodCard";
import { api } from "@/lib/api";
import type { Vod, VodPage } from "@/lib/types";
import { useAsyncEffect } from "@/lib/useAsyncEffect";

/** The channel's VODs, with delete (`DELETE /vods/{id}`, after a confirmation). */
export default function VodManager({ username, refreshKey }: { username: string; refreshKey: number }) {
  const [vods, setVods] = useState<Vod[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [pending, setPending] = useState<Vod | null>(null);
  const [error, setError] = useState<unknown>(null);

  const reload = useAsyncEffect(
    () => api<VodPage>(`/vods?channel=${encodeURIComponent(username)}&limit=24`, { auth: "none" }),
    [username, refreshKey],
    (page) => {
      setVods(page.items);
      setCursor(page.next_cursor);
    },
    setError,
  );

  const more = async () => {
    if (!cursor) return;
    try {
      const page = await api<VodPage>(
        `/vods?channel=${encodeURIComponent(username)}&limit=24&cursor=${encodeURIComponent(cursor)}`,
        { auth: "none" },
      );
      setVods((current) => [...(current ?? []), ...page.items]);
      setCursor(page.next_cursor);
    } catch (err) {
      setError(err);
    }
  };

  const remove = async (vod: Vod) => {
    setError(null);
    try {
      await api(`/vods/${encodeURIComponent(vod.vod_id)}`, { method: "DELETE", auth: "required" });
      setVods((current) => current?.filter((v) => v.vod_id !== vod.vod_id) ?? null);
    } catch (err) {
      setError(err);
    } finally {
      setPending(null);
    }
  };

  return (
    <section className="panel">
      <div className="section-head">
        <h2>Past broadcasts</h2>
        <button type="button" className="btn btn-small" onClick={() => reload()}>
          Refresh
        </button>
      </div>
      {pending && (
        <div className="warn-box form-row" style={{ marginBottom: 12 }}>
          <span>
            Delete “{pending.title || "Untitled broadcast"}”? Its video is removed for everyone.
          </span>
          <button
            type="button"
            className="btn btn-small btn-danger"
            data-testid="confirm-delete-vod"
            onClick={() => void remove(pending)}
          >
            Delete
          </button>
          <button type="button" className="btn btn-small" onClick={() => setPending(null)}>
            Cancel
          </button>
        </div>
      )}
      <ErrorBox error={error} testId="vod-error" />
      {vods?.length === 0 && <p className="muted">No past broadcasts yet. They appear here when a stream ends.</p>}
      <div className="grid">
        {vods?.map((vod) => (
          <VodCard key={vod.vod_id} vod={vod} onDelete={setPending} />
        ))}
      </div>
      {cursor && (
        <div style={{ textAlign: "center", marginTop: 16 }}>
          <button className="btn" type="button" onClick={() => void more()}>
            Load more
          </button>
        </div>
      )}
    </section>
  );
}

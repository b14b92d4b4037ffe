"use client";

import { useState } from "react";

import CopyButton from "@/components/CopyButton";
import ErrorBox from "@/components/ErrorBox";
import { api } from "@/lib/api";
import { useConfig } from "@/lib/config";
import type { StreamKeyCreated } from "@/lib/types";
import { useAction } from "@/lib/useAction";

/** The ingest server and the stream key: created or rotated here, shown once. */
export default function StreamSetup({ hasKey, onCreated }: { hasKey: boolean; onCreated: () => void }) {
  const config = useConfig();
  const [created, setCreated] = useState<StreamKeyCreated | null>(null);
  const [confirming, setConfirming] = useState(false);
  const { busy, error, run } = useAction();
  const ingestUrl = created?.ingest_url_hint || config?.ingest_url || "";

  const create = () => {
    setConfirming(false);
    void run(async () => {
      setCreated(await api<StreamKeyCreated>("/streams/me/key", { method: "POST", auth: "required" }));
      onCreated();
    });
  };

  return (
    <section className="panel">
      <h2>Stream setup</h2>
      <dl className="kv">
        <dt>Server</dt>
        <dd>
          <code data-testid="ingest-url">{ingestUrl || "…"}</code>
        </dd>
        <dd>{ingestUrl && <CopyButton text={ingestUrl} testId="copy-ingest-url" />}</dd>
        <dt>Stream key</dt>
        <dd>
          {created ? (
            <code className="secret" data-testid="stream-key">
              {created.stream_key}
            </code>
          ) : hasKey ? (
            <span className="muted">set (shown only when created)</span>
          ) : (
            <span className="muted">none yet</span>
          )}
        </dd>
        <dd>{created && <CopyButton text={created.stream_key} testId="copy-stream-key" />}</dd>
      </dl>
      {created && (
        <p className="warn-box" data-testid="key-warning">
          Copy the key now: it is not shown again. Anyone with it can stream to your channel.
        </p>
      )}
      <div className="form-row" style={{ marginTop: 12 }}>
        {!confirming && (
          <button
            type="button"
            className="btn btn-primary"
            data-testid="create-key"
            disabled={busy}
            onClick={() => (hasKey || created ? setConfirming(true) : create())}
          >
            {busy ? "Creating…" : hasKey || created ? "Rotate stream key" : "Create stream key"}
          </button>
        )}
        {confirming && (
          <>
            <span>The old key stops working at once (a live stream on it is cut off).</span>
            <button type="button" className="btn btn-danger" data-testid="confirm-rotate" onClick={create}>
              Rotate
            </button>
            <button type="button" className="btn" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </>
        )}
      </div>
      <ErrorBox error={error} testId="key-error" />
      <h3 style={{ marginTop: 18 }}>OBS settings</h3>
      <ul className="obs">
        <li>
          Settings → Stream: Service <strong>Custom…</strong>, Server <code>{ingestUrl || "the server above"}</code>,
          Stream Key <em>your key</em>.
        </li>
        <li>
          Settings → Output (Advanced): Encoder <strong>x264</strong> (or any H.264 encoder), Rate control CBR,{" "}
          <strong>Keyframe Interval 1 s</strong> (segments are cut on keyframes), audio <strong>AAC</strong>.
        </li>
        <li>Up to 1080p; lower renditions (720p, 360p) are made for viewers automatically.</li>
      </ul>
    </section>
  );
}

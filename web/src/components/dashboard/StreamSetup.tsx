"use client";

import { useState } from "react";

import CopyButton from "@/components/CopyButton";
import ErrorBox from "@/components/ErrorBox";
import { api } from "@/lib/api";
import { useConfig } from "@/lib/config";
import { formatDate } from "@/lib/format";
import type { MyChannel, StreamKeyCreated } from "@/lib/types";
import { useAction } from "@/lib/useAction";

/** Whether the channel has a key (never the key itself, which is shown only when created). */
function KeyState({ channel }: { channel: MyChannel | null }) {
  if (!channel) return <span className="muted">Checking…</span>;
  if (!channel.has_key) {
    return (
      <span className="muted" data-testid="key-state" data-has-key="false">
        No key yet
      </span>
    );
  }
  return (
    <span data-testid="key-state" data-has-key="true" data-created={channel.key_created_at ?? ""}>
      A key is set{channel.key_created_at ? ` (created ${formatDate(channel.key_created_at)})` : ""}.{" "}
      <span className="muted">It is shown only when created or rotated.</span>
    </span>
  );
}

/** The ingest server and the stream key: created or rotated here, shown once. `channel` is null
 *  until `GET /streams/me` answers: until then nothing is claimed and nothing can be rotated. */
export default function StreamSetup({ channel, onCreated }: { channel: MyChannel | null; onCreated: () => void }) {
  const config = useConfig();
  const hasKey = channel?.has_key === true;
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
          ) : (
            <KeyState channel={channel} />
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
            disabled={busy || !channel}
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

"use client";

import { type FormEvent, useId, useRef, useState } from "react";

import type { LiveSession } from "@/components/dashboard/useLiveSession";
import ErrorBox from "@/components/ErrorBox";
import { TrashIcon } from "@/components/Icons";
import { api } from "@/lib/api";
import type {
  Destination,
  DestinationInput,
  DestinationList,
  DestinationStatus,
  DestinationsUpdate,
  StreamHealthReport,
} from "@/lib/types";
import { useAction } from "@/lib/useAction";
import { useAsyncEffect } from "@/lib/useAsyncEffect";

/** The services offered in the add form; Custom leaves the server to type. */
const PRESETS = [
  { value: "twitch", label: "Twitch", url: "rtmp://live.twitch.tv/app" },
  { value: "youtube", label: "YouTube", url: "rtmp://a.rtmp.youtube.com/live2" },
  { value: "kick", label: "Kick", url: "rtmps://fa723fc1b171.global-contribute.live-video.net/app" },
  { value: "custom", label: "Custom", url: "" },
] as const;
const DEFAULT_PRESET = PRESETS[0];

// What `DestinationInput` accepts, checked by the browser before a row is added (HTML patterns
// are compiled with the `v` flag: `/` and `-` are escaped in classes). The server checks again
// and says why it refuses what these cannot see (a server that is not a public address).
const NAME_MAX = 40;
const URL_MAX = 300;
const URL_PATTERN = String.raw`[rR][tT][mM][pP][sS]?:\/\/[^\/\s?#@]+\/[^\s?#]+`;
const KEY_MAX = 256;
const KEY_PATTERN = String.raw`[A-Za-z0-9_\-.=~!$&*+,;:@%]{1,256}`;
const KEY_TITLE = "Letters, digits and _ - . = ~ ! $ & * + , ; : @ % (no spaces or slashes)";

/** A row of the list being edited: a saved destination (`id`) or one added here (`id` null). */
interface Row {
  rowKey: string;
  id: string | null;
  name: string;
  url: string;
  enabled: boolean;
  /** The saved key's hint (•••• + 4); null for a new row. */
  keyHint: string | null;
  /** A new row's key, or a saved row's replacement ("" keeps the saved key). */
  key: string;
}

type NewRow = Pick<Row, "name" | "url" | "key" | "enabled">;

const rowOf = (saved: Destination): Row => ({
  rowKey: saved.id,
  id: saved.id,
  name: saved.name,
  url: saved.url,
  enabled: saved.enabled,
  keyHint: saved.key_hint,
  key: "",
});

/** A saved row goes by its id, with `key` only when a new one was typed (else the saved key is kept). */
const inputOf = (row: Row): DestinationInput => ({
  ...(row.id === null ? {} : { id: row.id }),
  name: row.name,
  url: row.url,
  enabled: row.enabled,
  ...(row.key ? { key: row.key } : {}),
});

function changed(rows: Row[], saved: Destination[]): boolean {
  return (
    rows.length !== saved.length ||
    rows.some((row, index) => row.id !== saved[index]?.id || row.enabled !== saved[index]?.enabled || row.key !== "")
  );
}

const masked = (key: string) => `••••${key.slice(-4)}`;
const noSpaces = (value: string) => value.replace(/\s+/g, "");
const secondsText = (seconds: number) => (seconds < 10 ? seconds.toFixed(1) : String(Math.round(seconds)));

/** Seconds until the next attempt, counted from the worker's report (up to 5 s before this poll). */
function retryIn(status: DestinationStatus, report: StreamHealthReport): number | null {
  const retry = status.retry_in_seconds ?? null;
  if (retry === null) return null;
  const age = report.updated_at ? (Date.now() - Date.parse(report.updated_at)) / 1000 : 0;
  return Math.ceil(retry - Math.min(Math.max(0, age), retry));
}

function stateLabel(status: DestinationStatus, report: StreamHealthReport): string {
  switch (status.state) {
    case "connecting":
      return "Connecting…";
    case "live": {
      const bitrate = status.bitrate_kbps ?? null;
      return bitrate === null ? "Live" : `Live · ${Math.round(bitrate)} kbps`;
    }
    case "retrying": {
      const wait = retryIn(status, report);
      return wait === null ? "Retrying" : wait > 0 ? `Retrying in ${wait} s` : "Retrying now";
    }
    case "failed":
      return "Failed";
  }
}

/** One destination's forwarding in the running broadcast, as the health poll last reported it. */
function Status({ status, report }: { status: DestinationStatus; report: StreamHealthReport }) {
  const reason = status.state === "retrying" || status.state === "failed" ? status.reason : null;
  return (
    <div
      className="dest-status"
      data-testid="destination-status"
      data-state={status.state}
      data-attempts={status.attempts}
    >
      <span className={`dest-state dest-state-${status.state}`}>{stateLabel(status, report)}</span>
      {reason && <span data-testid="destination-reason">{reason}</span>}
      {status.dropped_seconds > 0 && (
        <span className="muted" data-testid="destination-dropped" data-seconds={status.dropped_seconds}>
          Missed {secondsText(status.dropped_seconds)} s of the stream
        </span>
      )}
    </div>
  );
}

/** What a saved destination does while live: its status, or why it has none. */
function LiveState({ saved, report }: { saved: Destination; report: StreamHealthReport }) {
  const status = report.destinations.find((candidate) => candidate.id === saved.id);
  if (status) {
    return (
      <>
        <Status status={status} report={report} />
        {!saved.enabled && <p className="muted dest-note">Turned off: forwarding stops within seconds.</p>}
      </>
    );
  }
  if (!saved.enabled) return null;
  // The broadcast reads its destinations again every few seconds.
  return (
    <p className="muted dest-note" data-testid="destination-waiting">
      Waiting for the broadcast to start forwarding…
    </p>
  );
}

/** A stream key input (type password) with a show/hide toggle; whitespace is dropped as it is typed. */
function KeyField({
  label,
  what,
  value,
  onChange,
  testId,
  required = false,
  disabled = false,
  hint,
  placeholder,
  inline = false,
}: {
  label: string;
  /** for the toggle's accessible name: "Show <what>" */
  what: string;
  value: string;
  onChange: (value: string) => void;
  testId: string;
  required?: boolean;
  disabled?: boolean;
  hint?: string;
  placeholder?: string;
  /** label, input and toggle on one line (a saved row's "new key") */
  inline?: boolean;
}) {
  const [shown, setShown] = useState(false);
  const id = useId();
  return (
    <div className={inline ? "field field-inline" : "field"}>
      <label htmlFor={id}>{label}</label>
      <div className="form-row key-field">
        <input
          id={id}
          type={shown ? "text" : "password"}
          value={value}
          required={required}
          disabled={disabled}
          pattern={KEY_PATTERN}
          maxLength={KEY_MAX}
          title={KEY_TITLE}
          placeholder={placeholder}
          autoComplete="off"
          autoCapitalize="off"
          spellCheck={false}
          aria-describedby={hint ? `${id}-hint` : undefined}
          data-testid={testId}
          onChange={(event) => onChange(noSpaces(event.target.value))}
        />
        <button
          type="button"
          className="btn btn-small"
          aria-controls={id}
          aria-label={`${shown ? "Hide" : "Show"} ${what}`}
          data-testid={`${testId}-toggle`}
          disabled={disabled}
          onClick={() => setShown((current) => !current)}
        >
          {shown ? "Hide" : "Show"}
        </button>
      </div>
      {hint && (
        <span className="hint" id={`${id}-hint`}>
          {hint}
        </span>
      )}
    </div>
  );
}

function DestinationRow({
  row,
  saved,
  report,
  disabled,
  onChange,
  onRemove,
}: {
  row: Row;
  /** the row as saved (null for a new row) */
  saved: Destination | null;
  /** the live session's report, null when not live */
  report: StreamHealthReport | null;
  disabled: boolean;
  onChange: (patch: Partial<Row>) => void;
  onRemove: () => void;
}) {
  const isNew = row.id === null;
  return (
    <li
      className={`dest${row.enabled ? "" : " dest-off"}`}
      data-testid={isNew ? "destination-new" : "destination-row"}
      data-destination-id={row.id ?? undefined}
      data-enabled={String(row.enabled)}
    >
      <div className="dest-head">
        <strong className="dest-name" data-testid="destination-row-name">
          {row.name}
        </strong>
        {isNew && <span className="pill">Not saved yet</span>}
        <span className="spacer" />
        <label className="toggle">
          <input
            type="checkbox"
            role="switch"
            checked={row.enabled}
            disabled={disabled}
            aria-label={`Enabled: ${row.name}`}
            data-testid="destination-enabled"
            onChange={(event) => onChange({ enabled: event.target.checked })}
          />
          Enabled
        </label>
        <button
          type="button"
          className="btn btn-small"
          aria-label={`Remove ${row.name}`}
          data-testid="destination-remove"
          disabled={disabled}
          onClick={onRemove}
        >
          <TrashIcon /> Remove
        </button>
      </div>
      <div className="dest-where">
        <code data-testid="destination-row-url">{row.url}</code> <span className="muted">key</span>{" "}
        <code data-testid="destination-key-hint">{row.keyHint ?? masked(row.key)}</code>
      </div>
      {saved && report && <LiveState saved={saved} report={report} />}
      {!isNew && (
        <KeyField
          label="New key"
          what="new key"
          value={row.key}
          disabled={disabled}
          inline
          placeholder={`Leave empty to keep ${row.keyHint ?? "the saved key"}`}
          testId="destination-new-key"
          onChange={(key) => onChange({ key })}
        />
      )}
    </li>
  );
}

/** Name, server and key of a destination to add to the list (saved with the list). */
function AddForm({ disabled, onAdd }: { disabled: boolean; onAdd: (row: NewRow) => void }) {
  const [name, setName] = useState<string>(DEFAULT_PRESET.label);
  const [url, setUrl] = useState<string>(DEFAULT_PRESET.url);
  const [key, setKey] = useState("");
  // Bumped on each add: the key field starts over (hidden again).
  const [round, setRound] = useState(0);
  // The preset is whichever service's server the URL is (Custom once it is edited away).
  const preset = PRESETS.find((candidate) => candidate.url !== "" && candidate.url === url.trim())?.value ?? "custom";

  const choose = (value: string) => {
    const chosen = PRESETS.find((candidate) => candidate.value === value) ?? DEFAULT_PRESET;
    const label = chosen.value === "custom" ? "" : chosen.label;
    // A name the streamer typed stays; a preset's name follows the preset.
    setName((current) => (current.trim() === "" || PRESETS.some((p) => p.label === current) ? label : current));
    setUrl(chosen.url);
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    onAdd({ name: name.trim(), url: url.trim(), key, enabled: true });
    setName(DEFAULT_PRESET.label);
    setUrl(DEFAULT_PRESET.url);
    setKey("");
    setRound((n) => n + 1);
  };

  return (
    <form className="form" onSubmit={submit} aria-label="Add a destination">
      <label>
        Service
        <select
          data-testid="destination-preset"
          value={preset}
          disabled={disabled}
          onChange={(event) => choose(event.target.value)}
        >
          {PRESETS.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      </label>
      <label>
        Name
        <input
          data-testid="destination-name"
          value={name}
          required
          maxLength={NAME_MAX}
          pattern={String.raw`.*\S.*`}
          title="A name for the list, e.g. Twitch"
          placeholder="e.g. My RTMP server"
          disabled={disabled}
          onChange={(event) => setName(event.target.value)}
        />
      </label>
      <label>
        Server URL
        <input
          data-testid="destination-url"
          value={url}
          required
          maxLength={URL_MAX}
          pattern={URL_PATTERN}
          title="rtmp:// or rtmps://, a server and its application, as in rtmp://live.twitch.tv/app"
          placeholder="rtmp://host[:port]/app"
          autoComplete="off"
          spellCheck={false}
          disabled={disabled}
          onChange={(event) => setUrl(noSpaces(event.target.value))}
        />
        <span className="hint">The service&apos;s server (RTMP or RTMPS), without the stream key.</span>
      </label>
      <KeyField
        key={round}
        label="Stream key"
        what="stream key"
        value={key}
        required
        disabled={disabled}
        testId="destination-key"
        hint="From the service's dashboard. Stored encrypted and never shown again."
        onChange={setKey}
      />
      <div className="form-row">
        <button className="btn" type="submit" data-testid="destination-add" disabled={disabled}>
          Add destination
        </button>
      </div>
    </form>
  );
}

/** Restream (simulcast): the services each broadcast is also forwarded to, unchanged. The list is
 *  edited here and saved whole (`PUT /streams/me/destinations`: saved ones by id, without their key
 *  unless a new one was typed); while live, each one's status comes from the page's one health
 *  poll (`session`). A broadcast reads the list as it starts. */
export default function Destinations({ session }: { session: LiveSession }) {
  const [saved, setSaved] = useState<Destination[] | null>(null);
  const [max, setMax] = useState(0);
  const [rows, setRows] = useState<Row[]>([]);
  const [done, setDone] = useState(false);
  const { busy, error, setError, run } = useAction();
  const added = useRef(0);
  const headingId = useId();

  const apply = (list: DestinationList) => {
    setSaved(list.destinations);
    setMax(list.max);
    setRows(list.destinations.map(rowOf));
  };

  useAsyncEffect(() => api<DestinationList>("/streams/me/destinations", { auth: "required" }), [], apply, setError);

  const edit = (next: (current: Row[]) => Row[]) => {
    setDone(false);
    setRows(next);
  };
  const update = (rowKey: string, patch: Partial<Row>) =>
    edit((current) => current.map((row) => (row.rowKey === rowKey ? { ...row, ...patch } : row)));
  const remove = (rowKey: string) => edit((current) => current.filter((row) => row.rowKey !== rowKey));
  const add = (row: NewRow) => {
    added.current += 1;
    const rowKey = `new-${added.current}`;
    edit((current) => [...current, { ...row, rowKey, id: null, keyHint: null }]);
  };
  const discard = () => {
    if (saved) edit(() => saved.map(rowOf));
    setError(null);
  };

  const save = (event: FormEvent) => {
    event.preventDefault();
    setDone(false);
    void run(async () => {
      apply(
        await api<DestinationList>("/streams/me/destinations", {
          method: "PUT",
          body: { destinations: rows.map(inputOf) } satisfies DestinationsUpdate,
          auth: "required",
        }),
      );
      setDone(true);
    });
  };

  const loaded = saved !== null;
  const dirty = loaded && changed(rows, saved);
  const full = loaded && rows.length >= max;
  const report = session.liveness === "live" ? session.report : null;
  const savedById = new Map((saved ?? []).map((destination) => [destination.id, destination]));
  // Removed while live: the running broadcast keeps forwarding to what it read as it started.
  const orphans = report?.destinations.filter((status) => !savedById.has(status.id)) ?? [];

  return (
    <section className="panel" data-testid="destinations" aria-labelledby={headingId}>
      <div className="section-head">
        <h2 id={headingId}>Restream</h2>
        {loaded && (
          <span className="muted" data-testid="destinations-count">
            {rows.length} of {max}
          </span>
        )}
      </div>
      <p className="muted dest-intro">
        Forward each broadcast, unchanged, to other services too. Keys are stored encrypted and never shown again.
        Changes apply within seconds, while you are live too.
      </p>
      {!loaded && !error && <p className="muted">Loading…</p>}
      <form onSubmit={save} aria-label="Restream destinations">
        {loaded && rows.length === 0 && (
          <p className="muted" data-testid="destinations-empty">
            No destinations yet: add one below, then save.
          </p>
        )}
        <ul className="dest-list">
          {rows.map((row) => (
            <DestinationRow
              key={row.rowKey}
              row={row}
              saved={row.id === null ? null : (savedById.get(row.id) ?? null)}
              report={report}
              disabled={busy}
              onChange={(patch) => update(row.rowKey, patch)}
              onRemove={() => remove(row.rowKey)}
            />
          ))}
        </ul>
        <ErrorBox error={error} testId="destinations-error" />
        {loaded && (
          <div className="form-row dest-actions">
            <button className="btn btn-primary" type="submit" data-testid="destinations-save" disabled={busy || !dirty}>
              {busy ? "Saving…" : "Save"}
            </button>
            {dirty && (
              <>
                <button type="button" className="btn" data-testid="destinations-discard" disabled={busy} onClick={discard}>
                  Discard changes
                </button>
                <span className="muted" data-testid="destinations-unsaved">
                  Unsaved changes{report ? ": this broadcast keeps forwarding as it started" : ""}.
                </span>
              </>
            )}
            {done && !dirty && (
              <span className="muted" data-testid="destinations-saved">
                Saved.
              </span>
            )}
          </div>
        )}
      </form>
      {report && orphans.length > 0 && (
        <div className="dest-orphans">
          <h3>Removed, stopping within seconds</h3>
          <ul className="dest-list">
            {orphans.map((status) => (
              <li key={status.id} className="dest" data-testid="destination-orphan" data-destination-id={status.id}>
                <strong className="dest-name">{status.name}</strong>
                <Status status={status} report={report} />
              </li>
            ))}
          </ul>
        </div>
      )}
      <h3 className="dest-add-title">Add a destination</h3>
      {full && (
        <p className="warn-box" data-testid="destination-limit">
          A channel can forward to at most {max} destinations: remove one to add another.
        </p>
      )}
      <AddForm disabled={!loaded || full || busy} onAdd={add} />
    </section>
  );
}

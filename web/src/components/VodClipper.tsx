"use client";

import { type FormEvent, useId, useState } from "react";

import { ClipCreated } from "@/components/ClipButton";
import ErrorBox from "@/components/ErrorBox";
import { ScissorsIcon } from "@/components/Icons";
import { api } from "@/lib/api";
import { formatDuration } from "@/lib/format";
import type { Clip, ClipRequest } from "@/lib/types";
import { useAction } from "@/lib/useAction";

/** The lengths offered, in seconds (`ClipRequest.seconds` takes 5-60). */
const LENGTHS = [5, 10, 15, 30, 45, 60] as const;
const DEFAULT_LENGTH = 30;
const TITLE_MAX = 100;

/** m:ss of a position, never rounded past the second it is in. */
const at = (seconds: number) => formatDuration(Math.floor(seconds));

/** A range of a VOD as a clip: from the player's position (`position`, seconds from the
 *  broadcast's start: the VOD plays from it) for a chosen length, with an optional title
 *  (`POST /clips` with `start_seconds`; a VOD's id is its broadcast's id). */
export default function VodClipper({
  vodId,
  duration,
  position,
}: {
  vodId: string;
  /** the VOD's length, seconds */
  duration: number;
  /** the player's position, seconds */
  position: number;
}) {
  const [open, setOpen] = useState(false);
  const [start, setStart] = useState(0);
  const [seconds, setSeconds] = useState<number>(DEFAULT_LENGTH);
  const [title, setTitle] = useState("");
  const [clip, setClip] = useState<Clip | null>(null);
  const { busy, error, setError, run } = useAction();
  const formId = useId();

  const startHere = () => {
    setStart(Math.max(0, position));
    setClip(null);
    setError(null);
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setClip(null);
    const named = title.trim();
    void run(async () => {
      setClip(
        await api<Clip>("/clips", {
          method: "POST",
          body: {
            broadcast_id: vodId,
            seconds,
            start_seconds: start,
            title: named || null,
          } satisfies ClipRequest,
          auth: "required",
        }),
      );
    });
  };

  const end = start + seconds;
  return (
    <div className="vod-clipper">
      <button
        className={`btn btn-small ${open ? "" : "btn-primary"}`}
        type="button"
        data-testid="vod-clip-open"
        aria-expanded={open}
        aria-controls={formId}
        title="Clip from the player's position"
        onClick={() => {
          startHere();
          setOpen(true);
        }}
      >
        <ScissorsIcon /> Clip
      </button>
      {open && (
        <form id={formId} className="panel form clip-form" aria-label="Make a clip" onSubmit={submit}>
          <div className="form-row">
            <span>
              Starts at{" "}
              <strong className="mono" data-testid="vod-clip-start" data-seconds={start.toFixed(2)}>
                {at(start)}
              </strong>
            </span>
            <button
              className="btn btn-small"
              type="button"
              data-testid="vod-clip-now"
              disabled={busy}
              onClick={startHere}
            >
              Use the current position ({at(position)})
            </button>
          </div>
          <label>
            Length
            <select
              data-testid="vod-clip-length"
              value={seconds}
              disabled={busy}
              onChange={(event) => setSeconds(Number(event.target.value))}
            >
              {LENGTHS.map((length) => (
                <option key={length} value={length}>
                  {length} seconds
                </option>
              ))}
            </select>
            <span className="hint">
              {end > duration
                ? `The video ends at ${at(duration)}: the clip stops there.`
                : `From ${at(start)} to ${at(end)}, widened to whole seconds.`}
            </span>
          </label>
          <label>
            Title (optional)
            <input
              data-testid="vod-clip-title"
              value={title}
              maxLength={TITLE_MAX}
              placeholder="The broadcast's title if empty"
              disabled={busy}
              onChange={(event) => setTitle(event.target.value)}
            />
          </label>
          <ErrorBox error={error} testId="clip-error" />
          <div className="form-row">
            <button className="btn btn-primary" type="submit" data-testid="vod-clip-submit" disabled={busy}>
              {busy ? "Clipping…" : "Make the clip"}
            </button>
            <button className="btn" type="button" disabled={busy} onClick={() => setOpen(false)}>
              Close
            </button>
            <span role="status">{clip && <ClipCreated clip={clip} />}</span>
          </div>
        </form>
      )}
    </div>
  );
}

"use client";

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";

import ChatAuthor from "@/components/ChatAuthor";
import { api, isNotFound } from "@/lib/api";
import { formatDuration } from "@/lib/format";
import type { ChatReplayPage, ReplayedMessage } from "@/lib/types";

// The replay is read a minute at a time: the minute playing and those either side, so a seek
// anywhere shows what was said just before it and playback never waits at a minute's edge.
// A clip (up to a minute) is one request.
const CHUNK_SECONDS = 60;
const PAGE_LIMIT = 500;
const SHOWN = 150;

async function loadRange(source: string, from: number, to: number | null): Promise<ReplayedMessage[]> {
  const items: ReplayedMessage[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams({ from: String(from), limit: String(PAGE_LIMIT) });
    if (to !== null) params.set("to", String(to));
    if (cursor) params.set("cursor", cursor);
    const page: ChatReplayPage = await api<ChatReplayPage>(`${source}?${params}`, { auth: "none" });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

/** A VOD's replay (`/vods/{id}/chat`) or a clip's (`/clips/{id}/chat`). */
export function vodReplay(vodId: string): string {
  return `/vods/${encodeURIComponent(vodId)}/chat`;
}

export function clipReplay(clipId: string): string {
  return `/clips/${encodeURIComponent(clipId)}/chat`;
}

/** The chat as it was at `offset` seconds into the video, read from `source` (its offsets count
 *  from the same start); `end`: the video's length, when the replay stops there (a clip). A
 *  replay that is gone (404: a deleted or expired VOD) shows a note instead. */
export default function ChatReplay({ source, offset, end }: { source: string; offset: number; end?: number }) {
  const [chunks, setChunks] = useState<ReadonlyMap<number, ReplayedMessage[]>>(new Map());
  const [failed, setFailed] = useState(false);
  const [gone, setGone] = useState(false);
  const requested = useRef(new Set<number>());
  const list = useRef<HTMLUListElement | null>(null);

  // The last minute (none past the end): a position after the end is in it.
  const last = end === undefined ? Infinity : Math.max(0, Math.ceil(end / CHUNK_SECONDS) - 1);
  const current = Math.min(last, Math.max(0, Math.floor(offset / CHUNK_SECONDS)));

  const mounted = useRef(false);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  useEffect(() => {
    if (gone) return;
    for (const chunk of [current - 1, current, current + 1]) {
      if (chunk < 0 || chunk > last || requested.current.has(chunk)) continue;
      requested.current.add(chunk);
      const from = chunk * CHUNK_SECONDS;
      const to = (chunk + 1) * CHUNK_SECONDS;
      loadRange(source, from, end === undefined ? to : Math.min(to, end)).then(
        (items) => {
          if (!mounted.current) return;
          setFailed(false);
          setChunks((loaded) => new Map(loaded).set(chunk, items));
        },
        (err: unknown) => {
          requested.current.delete(chunk); // asked again when playback reaches another minute
          if (!mounted.current) return;
          if (isNotFound(err)) setGone(true); // nothing more to ask for
          else setFailed(true);
        },
      );
    }
  }, [source, current, end, last, gone]);

  const shown = useMemo(() => {
    const said = [...(chunks.get(current - 1) ?? []), ...(chunks.get(current) ?? [])];
    return said.filter((message) => message.offset_seconds <= offset).slice(-SHOWN);
  }, [chunks, current, offset]);

  const newest = shown[shown.length - 1]?.id;
  useLayoutEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [newest]);

  const loading = !gone && !chunks.has(current);
  return (
    <section
      className="chat"
      aria-label="Chat replay"
      data-testid="chat-replay"
      data-offset={offset.toFixed(2)}
      data-gone={gone || undefined}
    >
      <header className="chat-header">
        <span>Chat replay</span>
        <span className="chat-status">{gone ? "" : failed ? "unavailable" : loading ? "loading" : ""}</span>
      </header>
      <ul className="chat-lines" ref={list}>
        {gone && (
          <li className="chat-system" data-testid="chat-replay-gone">
            This chat replay is no longer kept
          </li>
        )}
        {shown.length === 0 && !loading && !gone && (
          <li className="chat-system">No chat yet at this point of the video.</li>
        )}
        {!gone && shown.map((message) => (
          <li
            key={message.id}
            className="chat-message"
            data-testid="replay-message"
            data-id={message.id}
            data-offset={message.offset_seconds}
          >
            <span className="chat-time" title={message.ts}>
              {formatDuration(message.offset_seconds)}
            </span>
            <ChatAuthor user={message.user} displayName={message.display_name} badges={message.badges} />
            <span className="chat-text">{message.text}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

"use client";

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";

import ChatAuthor from "@/components/ChatAuthor";
import { api } from "@/lib/api";
import { formatDuration } from "@/lib/format";
import type { ChatReplayPage, ReplayedMessage } from "@/lib/types";

// The replay is read a minute at a time: the minute playing and those either side, so a seek
// anywhere shows what was said just before it and playback never waits at a minute's edge.
const CHUNK_SECONDS = 60;
const PAGE_LIMIT = 500;
const SHOWN = 150;

async function loadChunk(vodId: string, chunk: number): Promise<ReplayedMessage[]> {
  const items: ReplayedMessage[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams({
      from: String(chunk * CHUNK_SECONDS),
      to: String((chunk + 1) * CHUNK_SECONDS),
      limit: String(PAGE_LIMIT),
    });
    if (cursor) params.set("cursor", cursor);
    const page: ChatReplayPage = await api<ChatReplayPage>(`/vods/${encodeURIComponent(vodId)}/chat?${params}`, {
      auth: "none",
    });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

/** The chat of a VOD as it was at `offset` seconds after the VOD's start. */
export default function ChatReplay({ vodId, offset }: { vodId: string; offset: number }) {
  const [chunks, setChunks] = useState<ReadonlyMap<number, ReplayedMessage[]>>(new Map());
  const [failed, setFailed] = useState(false);
  const requested = useRef(new Set<number>());
  const list = useRef<HTMLUListElement | null>(null);
  const current = Math.max(0, Math.floor(offset / CHUNK_SECONDS));

  const mounted = useRef(false);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  useEffect(() => {
    for (const chunk of [current - 1, current, current + 1]) {
      if (chunk < 0 || requested.current.has(chunk)) continue;
      requested.current.add(chunk);
      loadChunk(vodId, chunk).then(
        (items) => {
          if (!mounted.current) return;
          setFailed(false);
          setChunks((loaded) => new Map(loaded).set(chunk, items));
        },
        () => {
          requested.current.delete(chunk); // asked again when playback reaches another minute
          if (mounted.current) setFailed(true);
        },
      );
    }
  }, [vodId, current]);

  const shown = useMemo(() => {
    const said = [...(chunks.get(current - 1) ?? []), ...(chunks.get(current) ?? [])];
    return said.filter((message) => message.offset_seconds <= offset).slice(-SHOWN);
  }, [chunks, current, offset]);

  const newest = shown[shown.length - 1]?.id;
  useLayoutEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [newest]);

  const loading = !chunks.has(current);
  return (
    <section className="chat" aria-label="Chat replay" data-testid="chat-replay" data-offset={offset.toFixed(2)}>
      <header className="chat-header">
        <span>Chat replay</span>
        <span className="chat-status">{failed ? "unavailable" : loading ? "loading" : ""}</span>
      </header>
      <ul className="chat-lines" ref={list}>
        {shown.length === 0 && !loading && <li className="chat-system">No chat yet at this point of the video.</li>}
        {shown.map((message) => (
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

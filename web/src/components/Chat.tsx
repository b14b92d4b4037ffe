"use client";

import Link from "next/link";
import { type FormEvent, useEffect, useLayoutEffect, useRef, useState } from "react";

import ChatAuthor from "@/components/ChatAuthor";
import { BanIcon, ClockIcon, TrashIcon } from "@/components/Icons";
import { type ChatLine, type ChatRoom, newNonce } from "@/lib/chat";
import type { ChatMessage, ChatYou } from "@/lib/types";
import { useSession } from "@/lib/useSession";

const TIMEOUT_SECONDS = 600;
function canModerate(you: ChatYou | null, message: ChatMessage): boolean {
  if (!you || !(you.owner || you.moderator) || message.user === you.user) return false;
  if (message.badges.includes("broadcaster")) return false;
  // Moderators cannot act on each other; the owner can act on anyone else.
  return you.owner || !message.badges.includes("moderator");
}

function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

function Line({ line, room }: { line: ChatLine; room: ChatRoom }) {
  if (line.kind === "system") {
    return <li className="chat-system">{line.text}</li>;
  }
  if (line.kind === "notice") {
    return (
      <li className={`chat-notice chat-notice-${line.code}`} data-testid="chat-notice" data-code={line.code}>
        {line.text}
      </li>
    );
  }
  const { message } = line;
  const moderate = canModerate(room.you, message) && !line.deleted;
  return (
    <li className="chat-message" data-testid="chat-message" data-user={message.user} data-id={message.id}>
      {moderate && (
        <span className="chat-mod-tools">
          <button
            type="button"
            title="Delete message"
            data-testid="chat-delete"
            onClick={() => room.send({ action: "delete", message_id: message.id })}
          >
            <TrashIcon />
          </button>
          <button
            type="button"
            title={`Time out ${message.user} for 10 minutes`}
            data-testid="chat-timeout"
            onClick={() => room.send({ action: "timeout", user: message.user, seconds: TIMEOUT_SECONDS })}
          >
            <ClockIcon />
          </button>
          <button
            type="button"
            title={`Ban ${message.user}`}
            data-testid="chat-ban"
            onClick={() => room.send({ action: "ban", user: message.user })}
          >
            <BanIcon />
          </button>
        </span>
      )}
      <ChatAuthor user={message.user} displayName={message.display_name} badges={message.badges} />
      {line.deleted ? (
        <span className="chat-deleted">message deleted</span>
      ) : (
        <span className="chat-text">{message.text}</span>
      )}
    </li>
  );
}

export default function Chat({ room, channel, compact = false }: { room: ChatRoom; channel: string; compact?: boolean }) {
  const session = useSession();
  const [text, setText] = useState("");
  const [local, setLocal] = useState("");
  const list = useRef<HTMLUListElement | null>(null);
  const pinned = useRef(true);
  const now = useNow(room.blockedUntil > Date.now());
  const wait = Math.max(0, Math.ceil((room.blockedUntil - now) / 1000));

  // Stay at the bottom unless the reader scrolled up.
  useLayoutEffect(() => {
    const el = list.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [room.lines]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const body = text.trim();
    if (!body) return;
    if (!room.send({ action: "send", text: body, nonce: newNonce() })) {
      setLocal("Not connected to the chat yet; try again in a moment.");
      return;
    }
    setLocal("");
    setText("");
    pinned.current = true;
  };

  const signedIn = session.status === "signed-in";
  // Until `history` says otherwise a signed-in chatter may try (the server refuses with a notice).
  const canSend = signedIn && room.status === "open" && room.you?.can_send !== false;
  const next = `/channel/?u=${encodeURIComponent(channel)}`;

  return (
    <section className={`chat ${compact ? "chat-compact" : ""}`} aria-label="Chat">
      <header className="chat-header">
        <span>Stream chat</span>
        <span className={`chat-status chat-status-${room.status}`} data-testid="chat-status">
          {room.status === "open" ? "connected" : room.status}
        </span>
      </header>
      {room.slowSeconds > 0 && <div className="chat-banner">Slow mode: one message every {room.slowSeconds} s</div>}
      <ul
        className="chat-lines"
        ref={list}
        onScroll={(event) => {
          const el = event.currentTarget;
          pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        }}
      >
        {room.lines.length === 0 && room.status === "open" && <li className="chat-system">Welcome to the chat!</li>}
        {room.status === "unavailable" && <li className="chat-system">Chat is not available here.</li>}
        {room.lines.map((line) => (
          <Line key={line.key} line={line} room={room} />
        ))}
      </ul>
      {local && <div className="chat-notice">{local}</div>}
      {signedIn ? (
        room.you && !room.you.can_send ? (
          <div className="chat-footer muted">You cannot chat in this room.</div>
        ) : (
          <form className="chat-form" onSubmit={submit}>
            <input
              data-testid="chat-input"
              value={text}
              maxLength={500}
              placeholder={room.status === "open" ? "Send a message" : "Connecting…"}
              onChange={(event) => setText(event.target.value)}
              aria-label="Chat message"
            />
            <button
              className="btn btn-primary"
              type="submit"
              data-testid="chat-send"
              disabled={!canSend || wait > 0 || !text.trim()}
            >
              {wait > 0 ? `${wait}s` : "Chat"}
            </button>
          </form>
        )
      ) : (
        <div className="chat-footer">
          <Link href={`/login/?next=${encodeURIComponent(next)}`}>Log in</Link> or{" "}
          <Link href={`/signup/?next=${encodeURIComponent(next)}`}>sign up</Link> to chat.
        </div>
      )}
    </section>
  );
}

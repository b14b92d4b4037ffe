// One channel's chat room over the WebSocket API (docs/chat.md): connect with
// `?channel=<u>[&token=<access token>]`, ask for `history` once open, ping every 4 minutes
// (API Gateway drops a connection idle for 10), reconnect with backoff and jitter.

import { useCallback, useEffect, useRef, useState } from "react";

import { loadConfig } from "./config";
import { freshAccessToken } from "./session";
import type { ChatMessage, ChatYou, ClientAction, ServerEvent } from "./types";
import { useSession } from "./useSession";

const PING_MS = 4 * 60 * 1000;
const MAX_LINES = 300;
const MAX_BACKOFF_MS = 30_000;
// `history` is how a new connection learns who it is; ask again if the answer gets lost
// (e.g. a Lambda that timed out on a cold start).
const HISTORY_RETRY_MS = 5000;
const HISTORY_ATTEMPTS = 4;

export type ChatLine =
  | { kind: "message"; key: string; message: ChatMessage; deleted: boolean }
  | { kind: "system"; key: string; text: string }
  | { kind: "notice"; key: string; code: string; text: string };

export type ChatStatus = "connecting" | "open" | "reconnecting" | "unavailable";

export interface ChatRoom {
  status: ChatStatus;
  lines: ChatLine[];
  you: ChatYou | null;
  slowSeconds: number;
  /** Until when (epoch ms) the server asked us to wait before sending again. */
  blockedUntil: number;
  /** Bumped whenever the room's moderation state may have changed (settings pages refetch). */
  moderationVersion: number;
  send: (action: ClientAction) => boolean;
}

let lineSeq = 0;
const nextKey = (prefix: string) => `${prefix}-${++lineSeq}`;

function messageLine(message: ChatMessage): ChatLine {
  return { kind: "message", key: `m-${message.id}`, message, deleted: false };
}

export function useChatRoom(channel: string | null): ChatRoom {
  const session = useSession();
  const identity = session.status === "loading" ? null : session.status === "signed-in" ? session.username : "";
  const [status, setStatus] = useState<ChatStatus>("connecting");
  const [lines, setLines] = useState<ChatLine[]>([]);
  const [you, setYou] = useState<ChatYou | null>(null);
  const [slowSeconds, setSlowSeconds] = useState(0);
  const [blockedUntil, setBlockedUntil] = useState(0);
  const [moderationVersion, setModerationVersion] = useState(0);
  const socketRef = useRef<WebSocket | null>(null);

  const append = useCallback((line: ChatLine) => {
    setLines((current) => {
      if (line.kind === "message" && current.some((l) => l.key === line.key)) return current;
      const next = [...current, line];
      return next.length > MAX_LINES ? next.slice(next.length - MAX_LINES) : next;
    });
  }, []);

  useEffect(() => {
    // Wait until we know who we are: one connection with the right identity, not two.
    if (!channel || identity === null) return;
    let stopped = false;
    let attempts = 0;
    let socket: WebSocket | null = null;
    let pingTimer: ReturnType<typeof setInterval> | null = null;
    let reconnectTimer: ReturnType<typeof setTimeout> | null = null;
    let historyTimer: ReturnType<typeof setTimeout> | null = null;
    setStatus("connecting");
    setYou(null);

    const handle = (event: ServerEvent) => {
      switch (event.type) {
        case "history":
          if (historyTimer) clearTimeout(historyTimer);
          historyTimer = null;
          setLines(event.messages.map(messageLine));
          setYou(event.you);
          setSlowSeconds(event.slow_seconds);
          break;
        case "message":
          append(messageLine(event));
          break;
        case "deleted":
          setLines((current) =>
            current.map((line) =>
              line.kind === "message" && line.message.id === event.id ? { ...line, deleted: true } : line,
            ),
          );
          break;
        case "system": {
          append({ kind: "system", key: nextKey("s"), text: event.text });
          const user = typeof event.data.user === "string" ? event.data.user : null;
          if (event.kind === "slow-mode" && typeof event.data.seconds === "number") setSlowSeconds(event.data.seconds);
          if (user && user === identity) {
            if (event.kind === "banned") setYou((y) => (y ? { ...y, can_send: false } : y));
            if (event.kind === "unbanned") setYou((y) => (y ? { ...y, can_send: true } : y));
            if (event.kind === "timed-out" && typeof event.data.seconds === "number") {
              setBlockedUntil(Date.now() + event.data.seconds * 1000);
            }
          }
          if (event.kind !== "stream-started" && event.kind !== "stream-ended") setModerationVersion((v) => v + 1);
          break;
        }
        case "notice":
          append({ kind: "notice", key: nextKey("n"), code: event.code, text: event.text });
          if (event.retry_after_seconds) setBlockedUntil(Date.now() + event.retry_after_seconds * 1000);
          if (event.code === "done") setModerationVersion((v) => v + 1);
          break;
        case "pong":
          break;
      }
    };

    const connect = async () => {
      const config = await loadConfig();
      if (stopped) return;
      if (!config.websocket_url) {
        setStatus("unavailable");
        return;
      }
      // The token is checked when the socket opens; make sure it is not about to expire.
      const token = identity ? await freshAccessToken(60) : null;
      if (stopped) return;
      const url = new URL(config.websocket_url);
      url.searchParams.set("channel", channel);
      if (token) url.searchParams.set("token", token);
      const ws = new WebSocket(url.toString());
      socket = ws;
      socketRef.current = ws;
      ws.onopen = () => {
        attempts = 0;
        setStatus("open");
        let asked = 0;
        const askHistory = () => {
          if (stopped || ws.readyState !== WebSocket.OPEN || asked >= HISTORY_ATTEMPTS) return;
          asked += 1;
          ws.send(JSON.stringify({ action: "history" }));
          historyTimer = setTimeout(askHistory, HISTORY_RETRY_MS);
        };
        askHistory();
        pingTimer = setInterval(() => {
          if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ action: "ping" }));
        }, PING_MS);
      };
      ws.onmessage = (message: MessageEvent<string>) => {
        try {
          handle(JSON.parse(message.data) as ServerEvent);
        } catch {
          // not a frame we understand
        }
      };
      ws.onclose = () => {
        if (pingTimer) clearInterval(pingTimer);
        if (historyTimer) clearTimeout(historyTimer);
        pingTimer = null;
        historyTimer = null;
        if (socketRef.current === ws) socketRef.current = null;
        if (stopped) return;
        setStatus("reconnecting");
        const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** attempts) * (0.5 + Math.random() / 2);
        attempts += 1;
        reconnectTimer = setTimeout(() => void connect(), delay);
      };
    };
    void connect();

    return () => {
      stopped = true;
      if (pingTimer) clearInterval(pingTimer);
      if (historyTimer) clearTimeout(historyTimer);
      if (reconnectTimer) clearTimeout(reconnectTimer);
      socket?.close(1000);
      socketRef.current = null;
    };
  }, [channel, identity, append]);

  const send = useCallback((action: ClientAction) => {
    const ws = socketRef.current;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(action));
    return true;
  }, []);

  return { status, lines, you, slowSeconds, blockedUntil, moderationVersion, send };
}

export function newNonce(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

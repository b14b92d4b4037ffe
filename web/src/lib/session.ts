// The signed-in session, outside React so the API client can use it too.
//
// The access token lives in this module's memory only (never localStorage): a reload loses
// it and `refresh()` gets a new one from the HttpOnly refresh cookie (scoped to `/api/auth`,
// script cannot read it). Refresh tokens rotate on every use and reusing a spent one revokes
// the whole session, so refreshes are single-flight in a tab and serialized across tabs with
// the Web Locks API (each tab then presents the cookie the previous refresh left).

import { request } from "./http";
import type { LoginRequest, TokenResponse } from "./types";

export type Session =
  | { status: "loading" }
  | { status: "anonymous" }
  | { status: "signed-in"; username: string; userId: string };

const CHANNEL = "letslive-auth";
const LOCK = "letslive-refresh";

let session: Session = { status: "loading" };
let accessToken: string | null = null;
let expiresAt = 0; // epoch ms
let refreshTimer: ReturnType<typeof setTimeout> | null = null;
let inFlight: Promise<string | null> | null = null;
let started = false;
let broadcast: BroadcastChannel | null = null;
const listeners = new Set<() => void>();

export function getSession(): Session {
  return session;
}

export function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function setSession(next: Session): void {
  session = next;
  listeners.forEach((listener) => listener());
}

interface Claims {
  sub: string;
  username: string;
  exp: number;
}

function decodeClaims(token: string): Claims | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const claims = JSON.parse(json) as Partial<Claims>;
    if (typeof claims.sub !== "string" || typeof claims.username !== "string") return null;
    return { sub: claims.sub, username: claims.username, exp: Number(claims.exp ?? 0) };
  } catch {
    return null;
  }
}

function clear(): void {
  accessToken = null;
  expiresAt = 0;
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = null;
  setSession({ status: "anonymous" });
}

function accept(tokens: TokenResponse): string {
  const claims = decodeClaims(tokens.access_token);
  accessToken = tokens.access_token;
  expiresAt = Date.now() + tokens.expires_in * 1000;
  if (refreshTimer) clearTimeout(refreshTimer);
  // Shortly before expiry: a minute early, or at 80 % of a short lifetime.
  const lead = Math.max(5, Math.min(tokens.expires_in - 60, tokens.expires_in * 0.8));
  refreshTimer = setTimeout(() => void refresh(), lead * 1000);
  const current = session.status === "signed-in" ? session : null;
  if (claims && (current?.username !== claims.username || current.userId !== claims.sub)) {
    setSession({ status: "signed-in", username: claims.username, userId: claims.sub });
  } else if (!claims) {
    setSession({ status: "signed-in", username: "", userId: "" });
  }
  return tokens.access_token;
}

async function withLock<T>(work: () => Promise<T>): Promise<T> {
  if (typeof navigator !== "undefined" && "locks" in navigator && navigator.locks) {
    return navigator.locks.request(LOCK, work) as Promise<T>;
  }
  return work();
}

async function postRefresh(): Promise<string | null> {
  try {
    const response = await fetch("/api/auth/refresh", {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      cache: "no-store",
    });
    if (response.status >= 400 && response.status < 500 && response.status !== 429) {
      clear(); // no cookie, or a spent/revoked one: signed out
      return null;
    }
    if (!response.ok) {
      if (session.status === "loading") setSession({ status: "anonymous" });
      return null;
    }
    return accept((await response.json()) as TokenResponse);
  } catch {
    // Network trouble: keep what we have (it may still be valid); a later call retries.
    if (session.status === "loading") setSession({ status: "anonymous" });
    return null;
  }
}

/** A new access token from the refresh cookie (single-flight); null when not signed in. */
export function refresh(): Promise<string | null> {
  inFlight ??= withLock(postRefresh).finally(() => {
    inFlight = null;
  });
  return inFlight;
}

/** The access token if there is one now (no refresh). */
export function currentAccessToken(): string | null {
  return accessToken && Date.now() < expiresAt ? accessToken : null;
}

/** An access token valid for at least `minSeconds` more, refreshing when needed. */
export async function freshAccessToken(minSeconds = 30): Promise<string | null> {
  if (inFlight) return inFlight;
  if (accessToken && expiresAt - Date.now() > minSeconds * 1000) return accessToken;
  if (session.status === "anonymous") return null;
  return refresh();
}

/** Once per page load: try the refresh cookie; listen to the other tabs. */
export function startSession(): void {
  if (started || typeof window === "undefined") return;
  started = true;
  if ("BroadcastChannel" in window) {
    broadcast = new BroadcastChannel(CHANNEL);
    broadcast.onmessage = (event: MessageEvent<string>) => {
      if (event.data === "logout") clear();
      else if (event.data === "login" && session.status !== "signed-in") void refresh();
    };
  }
  void refresh();
}

export async function login(username: string, password: string): Promise<void> {
  // The refresh token stays in its HttpOnly cookie, out of reach of script.
  const body: LoginRequest = { username, password, refresh_token_in_body: false };
  const tokens = await request<TokenResponse>("/auth/login", { method: "POST", body });
  accept(tokens);
  broadcast?.postMessage("login");
}

export async function logout(): Promise<void> {
  try {
    await fetch("/api/auth/logout", { method: "POST", credentials: "same-origin" });
  } finally {
    clear();
    broadcast?.postMessage("logout");
  }
}

// The API's shapes, as `openapi.json` (components.schemas) describes them.

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface TokenResponse {
  access_token: string;
  token_type?: string;
  expires_in: number;
  // No refresh_token: the web app never asks for it in the body (`refresh_token_in_body`); it
  // lives only in the HttpOnly cookie, out of reach of script.
}

export interface PublicProfile {
  username: string;
  display_name: string;
  bio: string;
  avatar_url: string | null;
  followers_count: number;
  following_count: number;
  live: boolean;
  created_at: string;
  followed_by_me?: boolean | null;
}

export type Profile = Omit<PublicProfile, "followed_by_me">;

export interface FollowState {
  following: boolean;
  followers_count: number;
}

export interface FollowEntry {
  username: string;
  display_name: string | null;
  followed_at: string;
}

export interface LiveChannel {
  username: string;
  title: string;
  category: string | null;
  tags: string[];
  viewer_count: number;
  thumbnail_url: string | null;
  started_at: string;
  playback_url: string;
}

export interface ChannelState {
  username: string;
  live: boolean;
  title: string;
  category: string | null;
  tags: string[];
  started_at: string | null;
  viewer_count: number;
  thumbnail_url: string | null;
  playback_url: string | null;
}

export interface MyChannel {
  username: string;
  title: string;
  category: string | null;
  tags: string[];
  has_key: boolean;
  /** When the current key was made; null without a key (or for a key made before this was recorded). */
  key_created_at: string | null;
  live: boolean;
  started_at: string | null;
}

export interface StreamKeyCreated {
  stream_key: string;
  ingest_url_hint: string;
}

/** One rendition the viewers get; `copied`: the source itself, not re-encoded. */
export interface RungReport {
  name: string;
  width: number;
  height: number;
  fps: number;
  copied: boolean;
}

export interface IngestWarning {
  code: "keyframe-interval" | "frame-rate-capped" | "resolution-capped" | "bitrate-capped" | "codec-converted";
  message: string;
  /** The exact encoder setting to change. */
  setting?: string | null;
}

/** `GET /streams/me/health`: 200 while live (measurements null until the worker reports), 404 `not-live`. */
export interface StreamHealthReport {
  broadcast_id: string;
  started_at: string;
  playback_url: string;
  viewer_count: number;
  input_bitrate_kbps: number | null;
  fps: number | null;
  width: number | null;
  height: number | null;
  resolution: string | null;
  transcode_speed: number | null;
  last_segment_at: string | null;
  video_codec: string | null;
  audio_codec: string | null;
  keyframe_interval_seconds: number | null;
  top_rung: "copied" | "re-encoded" | null;
  top_rung_reason: string | null;
  rungs: RungReport[];
  warnings: IngestWarning[];
  updated_at: string | null;
}

export interface VodRung {
  name: string;
  height: number;
  bandwidth: number;
}

export interface Vod {
  vod_id: string;
  username: string;
  title: string;
  category: string | null;
  started_at: string;
  duration_seconds: number;
  rungs: VodRung[];
  playback_url: string;
  thumbnail_url: string | null;
  expires_at: string;
}

export interface BanEntry {
  user: string;
  by: string;
  at: string;
  until: string | null;
}

export interface RoomSettings {
  channel: string;
  slow_seconds: number;
  moderators: string[];
  bans: BanEntry[];
  viewers: number;
}

// --- chat (WebSocket frames, README "Chat") -------------------------------------------------

export type Badge = "broadcaster" | "moderator";

export interface ChatMessage {
  type: "message";
  id: string;
  user: string;
  display_name: string;
  badges: Badge[];
  text: string;
  ts: string;
}

export interface ChatYou {
  user: string | null;
  can_send: boolean;
  moderator: boolean;
  owner: boolean;
}

export type ServerEvent =
  | ChatMessage
  | { type: "deleted"; id: string }
  | { type: "system"; kind: string; text: string; data: Record<string, unknown> }
  | { type: "notice"; code: string; text: string; retry_after_seconds: number | null }
  | { type: "history"; messages: ChatMessage[]; slow_seconds: number; you: ChatYou }
  | { type: "pong" };

export type ClientAction =
  | { action: "history" }
  | { action: "ping" }
  | { action: "send"; text: string; nonce?: string }
  | { action: "delete"; message_id: string }
  | { action: "timeout"; user: string; seconds: number }
  | { action: "ban"; user: string }
  | { action: "unban"; user: string }
  | { action: "slow"; seconds: number }
  | { action: "mod"; user: string }
  | { action: "unmod"; user: string };

export interface RuntimeConfig {
  websocket_url: string | null;
  ingest_url: string | null;
}

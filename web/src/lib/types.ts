// The API's shapes: derived from the generated `api-schema.ts` (openapi-typescript over the
// repository's `openapi.json`, the contract of the HTTP API; `npm run generate:api`), never
// copied by hand. Only what the contract does not describe is written here: the chat's
// WebSocket frames and the runtime config (below).

import type { components } from "./api-schema";

type Schemas = components["schemas"];

export type Problem = Schemas["Problem"];

export type LoginRequest = Schemas["LoginRequest"];
export type SignupRequest = Schemas["SignupRequest"];
/** The web app never sets `refresh_token_in_body`, so `refresh_token` never comes back: the
 *  refresh token lives only in the HttpOnly cookie, out of reach of script. */
export type TokenResponse = Schemas["TokenResponse"];

export type PublicProfile = Schemas["PublicProfile"];
export type Profile = Schemas["Profile"];
export type ProfilePatch = Schemas["ProfilePatch"];
export type FollowState = Schemas["FollowState"];
export type FollowEntry = Schemas["FollowEntry"];
export type FollowPage = Schemas["FollowPage"];

export type LiveChannel = Schemas["LiveChannel"];
export type LivePage = Schemas["LivePage"];
/** `GET /streams/{username}`; `broadcast_id` (non-null while live) is what `POST /clips` takes. */
export type ChannelState = Schemas["ChannelState"];
export type MyChannel = Schemas["MyChannel"];
export type ChannelPatch = Schemas["ChannelPatch"];
export type StreamKeyCreated = Schemas["StreamKeyCreated"];

/** One rendition the viewers get; `copied`: the source itself, not re-encoded. */
export type RungReport = Schemas["RungReport"];
export type IngestWarning = Schemas["IngestWarning"];
/** `GET /streams/me/health`: 200 while live (measurements null until the worker reports), 404 `not-live`. */
export type StreamHealthReport = Schemas["StreamHealthReport"];

/** Restream (simulcast): a saved destination (`GET`/`PUT /streams/me/destinations`); its key is
 *  never returned, only `key_hint` (•••• + its last 4 characters). */
export type Destination = Schemas["Destination"];
export type DestinationList = Schemas["DestinationList"];
/** One destination in a `PUT`: a saved one by `id`, without `key` to keep its saved key; a new
 *  one without `id`, with its `key`. */
export type DestinationInput = Schemas["DestinationInput"];
/** `PUT /streams/me/destinations`: the whole list (destinations left out are removed). */
export type DestinationsUpdate = Schemas["DestinationsUpdate"];
/** One enabled destination's forwarding in the running broadcast (`StreamHealthReport.destinations`). */
export type DestinationStatus = Schemas["DestinationStatus"];

export type VodRung = Schemas["VodRung"];
export type Vod = Schemas["Vod"];
export type VodPage = Schemas["VodPage"];
export type ReplayedMessage = Schemas["ReplayedMessage"];
export type ChatReplayPage = Schemas["ChatReplayPage"];

/** A clip: up to a minute of a broadcast (live or its VOD), with media of its own that outlives
 *  the VOD; `start_seconds` and `duration_seconds` say what it holds (whole 1 s segments). */
export type Clip = Schemas["Clip"];
/** A clip's MP4 (`Clip.download`), remuxed a few seconds after the clip is made: `pending`, then
 *  `remuxing` (`progress` 0 to 1), then `ready` (`url`, an attachment, and `size_bytes`) or
 *  `failed` (`reason`). */
export type ClipDownload = Schemas["ClipDownload"];
export type ClipPage = Schemas["ClipPage"];
/** `GET /clips/top?channel=&limit=`: a channel's most viewed clips, the most viewed first (one
 *  page, no cursor). */
export type ClipList = Schemas["ClipList"];
/** `POST /clips`: without `start_seconds`, the last `seconds` of a live broadcast; with it, that
 *  range from the broadcast's start (a VOD's id is its broadcast's id). */
export type ClipRequest = Schemas["ClipRequest"];

export type BanEntry = Schemas["BanEntry"];
export type RoomSettings = Schemas["RoomSettings"];

// --- not in the contract --------------------------------------------------------------------
// openapi.json describes the HTTP API only: the chat is a WebSocket API (its frames are in the
// docs/chat.md) and /config.json is a static file the deployment writes.

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

/** `/config.json` (see config.ts). */
export interface RuntimeConfig {
  websocket_url: string | null;
  ingest_url: string | null;
}

// GENERATED FILE: do not edit. The HTTP API's types, made by openapi-typescript from the
// repository's OpenAPI document (../openapi.json, written by `python -m functions.openapi`).
// Regenerate with `cd web && npm run generate:api`; `npm run check:api` (in `make web-check`)
// fails while this file is stale. Use the types through src/lib/types.ts.

export interface paths {
    "/auth/.well-known/jwks.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Jwks
         * @description The public keys that verify access tokens (any service, any client).
         */
        get: operations["jwks_auth__well_known_jwks_json_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/auth/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Health
         * @description The service's version and whether each of its tables answers (503 when not).
         */
        get: operations["health_auth_health_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/auth/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Login
         * @description Tokens for a username or email and a password; also sets the refresh cookie.
         *
         *     A refresh cookie this account's session still honours marks a known device, which failed
         *     logins from elsewhere cannot lock out.
         */
        post: operations["login_auth_login_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/auth/logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Logout
         * @description Revoke the session of the refresh token (body, else cookie) and clear the cookie. Idempotent.
         */
        post: operations["logout_auth_logout_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/auth/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Me
         * @description Who the bearer access token says the caller is.
         */
        get: operations["me_auth_me_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/auth/refresh": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Refresh
         * @description A new token pair for a refresh token (body, else cookie); the presented one stops working.
         */
        post: operations["refresh_auth_refresh_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/auth/signup": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Signup
         * @description Create an account. It does not sign in: log in next. Sign-ups per address are limited (429).
         */
        post: operations["signup_auth_signup_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/chat/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Health
         * @description The service's version and whether each of its tables answers (503 when not).
         */
        get: operations["health_chat_health_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/chat/{channel}/settings": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Room Settings
         * @description Slow mode, moderators, bans and timeouts in force, and the number of viewers.
         */
        get: operations["room_settings_chat__channel__settings_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/clips": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List Clips
         * @description A channel's clips, newest first.
         */
        get: operations["list_clips_clips_get"];
        put?: never;
        /**
         * Create Clip
         * @description Clip `seconds` (5-60, default 30) of a broadcast: the last ones of a live broadcast, or
         *     from `start_seconds` (a range of its VOD). The clip is whole 1 s segments, so it starts up
         *     to a second early and ends up to a second late; it plays at once and outlives the VOD.
         */
        post: operations["create_clip_clips_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/clips/top": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Most Viewed
         * @description A channel's most viewed clips, the most viewed first (its top `limit`, one page).
         */
        get: operations["most_viewed_clips_top_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/clips/{clip_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get Clip
         * @description A clip: its title, channel, creator, views and playback URL (HLS).
         */
        get: operations["get_clip_clips__clip_id__get"];
        put?: never;
        post?: never;
        /**
         * Delete Clip
         * @description Delete a clip: its creator, the channel's owner or one of its moderators. Its media goes too.
         */
        delete: operations["delete_clip_clips__clip_id__delete"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/clips/{clip_id}/chat": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Clip Chat
         * @description The clip's chat replay, kept as long as the clip (after its VOD is gone too): the
         *     messages sent from `from` to before `to` seconds after the clip's start, oldest first,
         *     each with its `offset_seconds` from the clip's start. Deleted messages and those of users
         *     banned from the channel are left out.
         */
        get: operations["clip_chat_clips__clip_id__chat_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/clips/{clip_id}/download": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Retry Download
         * @description Make the clip's MP4 again after it failed (`download.state` is `failed`): its creator,
         *     the channel's owner or one of its moderators. The clip comes back with its download
         *     `pending`; poll it as after making the clip.
         */
        post: operations["retry_download_clips__clip_id__download_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/clips/{clip_id}/views": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Count View
         * @description Count one view (the clip page does, once per load); the clip with its new count.
         */
        post: operations["count_view_clips__clip_id__views_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/streams/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Health
         * @description The service's version and whether each of its tables answers (503 when not).
         */
        get: operations["health_streams_health_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/streams/live": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Live
         * @description Channels live now, most recently started first.
         */
        get: operations["live_streams_live_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/streams/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get Me
         * @description The caller's channel settings and whether a stream key exists (never the key).
         */
        get: operations["get_me_streams_me_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Update Me
         * @description Change the title, category or tags; absent fields are left as they are.
         */
        patch: operations["update_me_streams_me_patch"];
        trace?: never;
    };
    "/streams/me/destinations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get Destinations
         * @description Where the caller's broadcasts are forwarded (keys masked). Each one's live status is
         *     in `GET /streams/me/health`.
         */
        get: operations["get_destinations_streams_me_destinations_get"];
        /**
         * Put Destinations
         * @description Replace the caller's destinations (at most 5): a saved one is named by `id` and keeps
         *     its key unless `key` is given; one left out is removed. Keys are stored encrypted and
         *     never returned. A broadcast picks the list up when it starts.
         */
        put: operations["put_destinations_streams_me_destinations_put"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/streams/me/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get Health
         * @description The caller's live session: input bitrate, fps, resolution, transcode speed (404 `not-live`).
         */
        get: operations["get_health_streams_me_health_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/streams/me/key": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Create Key
         * @description Create or rotate the caller's stream key. The key is in this response only; the old
         *     one stops working at once (a live session on it is cut off).
         */
        post: operations["create_key_streams_me_key_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/streams/{username}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get Channel
         * @description A channel's public state and, while live, its playback URL.
         */
        get: operations["get_channel_streams__username__get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/users/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Health
         * @description The service's version and whether each of its tables answers (503 when not).
         */
        get: operations["health_users_health_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/users/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Update Me
         * @description Change the caller's display name, bio or avatar; absent fields are left as they are.
         */
        patch: operations["update_me_users_me_patch"];
        trace?: never;
    };
    "/users/{username}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get Profile
         * @description A public profile; `followed_by_me` only when the caller is signed in.
         */
        get: operations["get_profile_users__username__get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/users/{username}/follow": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** Follow */
        put: operations["follow_users__username__follow_put"];
        post?: never;
        /** Unfollow */
        delete: operations["unfollow_users__username__follow_delete"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/users/{username}/followers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Followers
         * @description Who follows `username`, newest first.
         */
        get: operations["followers_users__username__followers_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/users/{username}/following": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Following
         * @description Whom `username` follows, newest first.
         */
        get: operations["following_users__username__following_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vods": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List Vods
         * @description A channel's VODs, newest first.
         */
        get: operations["list_vods_vods_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vods/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Health
         * @description The service's version and whether each of its tables answers (503 when not).
         */
        get: operations["health_vods_health_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vods/{vod_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get Vod
         * @description A VOD: its playback URL (HLS), duration, renditions and thumbnail.
         */
        get: operations["get_vod_vods__vod_id__get"];
        put?: never;
        post?: never;
        /**
         * Delete Vod
         * @description Delete one of the caller's VODs.
         */
        delete: operations["delete_vod_vods__vod_id__delete"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vods/{vod_id}/chat": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Vod Chat
         * @description The VOD's chat replay: the messages sent from `from` to before `to` seconds after its
         *     start, oldest first, each with its `offset_seconds` to show it in sync with playback.
         *     Deleted messages and those of users banned from the channel are left out.
         */
        get: operations["vod_chat_vods__vod_id__chat_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** BanEntry */
        BanEntry: {
            /**
             * At
             * Format: date-time
             */
            at: string;
            /** By */
            by: string;
            /**
             * Until
             * @description null for a ban, the end of a timeout otherwise
             */
            until: string | null;
            /** User */
            user: string;
        };
        /** CallerIdentity */
        CallerIdentity: {
            /** User Id */
            user_id: string;
            /** Username */
            username: string;
        };
        /**
         * ChannelPatch
         * @description `PATCH /streams/me`: only the fields present change; `category: null` (or "") clears it.
         */
        ChannelPatch: {
            /**
             * Category
             * @description trimmed; null or "" clears it
             */
            category?: string | null;
            /**
             * Tags
             * @description replaces the current tags; repeats (ignoring case) are dropped
             */
            tags?: string[];
            /**
             * Title
             * @description trimmed; 1-140 characters
             */
            title?: string;
        };
        /**
         * ChannelState
         * @description `GET /streams/{username}`: an offline channel has `live: false` and nulls.
         */
        ChannelState: {
            /**
             * Broadcast Id
             * @description the live broadcast's (what `POST /clips` takes)
             */
            broadcast_id?: string | null;
            /** Category */
            category: string | null;
            /** Live */
            live: boolean;
            /**
             * Playback Url
             * @description the live master playlist (HLS)
             */
            playback_url: string | null;
            /** Started At */
            started_at: string | null;
            /** Tags */
            tags: string[];
            /** Thumbnail Url */
            thumbnail_url: string | null;
            /** Title */
            title: string;
            /** Username */
            username: string;
            /** Viewer Count */
            viewer_count: number;
        };
        /** ChatReplayPage */
        ChatReplayPage: {
            /**
             * Items
             * @description oldest first
             */
            items: components["schemas"]["ReplayedMessage"][];
            /**
             * Next Cursor
             * @description pass as `cursor` for the next page; null on the last page
             */
            next_cursor: string | null;
        };
        /**
         * CheckResult
         * @description One dependency probe: did it answer, and how long did it take.
         */
        CheckResult: {
            /** Error */
            error?: string | null;
            /** Latency Ms */
            latency_ms: number;
            /** Ok */
            ok: boolean;
        };
        /**
         * Clip
         * @description A clip as the API shows it. URLs are under the media base URL.
         */
        Clip: {
            /** Broadcast Id */
            broadcast_id: string;
            /**
             * Channel
             * @description whose broadcast it is from
             */
            channel: string;
            /** Clip Id */
            clip_id: string;
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /**
             * Creator
             * @description who made it
             */
            creator: string;
            download: components["schemas"]["ClipDownload"];
            /** Duration Seconds */
            duration_seconds: number;
            /**
             * Playback Url
             * @description the clip's own HLS master playlist
             */
            playback_url: string;
            /**
             * Start Seconds
             * @description where it starts, from the broadcast's start
             */
            start_seconds: number;
            /** Title */
            title: string;
            /** Views */
            views: number;
        };
        /**
         * ClipDownload
         * @description The clip's MP4: `pending` until the remux starts, then `remuxing` with its progress,
         *     then `ready` with its URL or `failed` with the reason.
         */
        ClipDownload: {
            /**
             * Progress
             * @description 0 to 1
             */
            progress: number;
            /**
             * Reason
             * @description why it failed
             */
            reason: string | null;
            /**
             * Size Bytes
             * @description the MP4's size, once ready
             */
            size_bytes: number | null;
            /**
             * State
             * @enum {string}
             */
            state: "pending" | "remuxing" | "ready" | "failed";
            /**
             * Url
             * @description the MP4 (served as an attachment), once ready
             */
            url: string | null;
        };
        /** ClipList */
        ClipList: {
            /** Items */
            items: components["schemas"]["Clip"][];
        };
        /** ClipPage */
        ClipPage: {
            /** Items */
            items: components["schemas"]["Clip"][];
            /**
             * Next Cursor
             * @description pass as `cursor` for the next page; null on the last page
             */
            next_cursor: string | null;
        };
        /**
         * ClipRequest
         * @description `POST /clips`: `seconds` of broadcast `broadcast_id` (a VOD's id is its broadcast's id).
         *     Without `start_seconds`, the last `seconds` of a live broadcast (one click in the player);
         *     with it, from that many seconds after the broadcast's start (a range of the VOD, or of the
         *     live broadcast's past).
         */
        ClipRequest: {
            /** Broadcast Id */
            broadcast_id: string;
            /**
             * Seconds
             * @description the clip's length: it covers whole 1 s segments, so it may be up to a second longer
             */
            seconds?: number;
            /**
             * Start Seconds
             * @description from the broadcast's start; absent: the live edge
             */
            start_seconds?: number | null;
            /**
             * Title
             * @description trimmed
             */
            title?: string | null;
        };
        /**
         * Destination
         * @description A saved destination as the API shows it: never its key.
         */
        Destination: {
            /** Enabled */
            enabled: boolean;
            /** Id */
            id: string;
            /**
             * Key Hint
             * @description the key's last characters, masked: •••• + 4
             */
            key_hint: string;
            /** Name */
            name: string;
            /**
             * Updated At
             * Format: date-time
             */
            updated_at: string;
            /** Url */
            url: string;
        };
        /**
         * DestinationInput
         * @description One destination in `PUT /streams/me/destinations`: a new one (no `id`, `key` required) or
         *     a saved one (its `id`; without `key` the saved key is kept).
         */
        DestinationInput: {
            /** Enabled */
            enabled?: boolean;
            /**
             * Id
             * @description a saved destination's id; absent for a new one
             */
            id?: string | null;
            /**
             * Key
             * @description the stream key the service gave; required for a new destination, omitted to keep the saved one
             */
            key?: string | null;
            /**
             * Name
             * @description e.g. "Twitch"; trimmed
             */
            name: string;
            /**
             * Url
             * @description the service's server, e.g. rtmp://live.twitch.tv/app or rtmps://a.rtmps.youtube.com/live2
             */
            url: string;
        };
        /** DestinationList */
        DestinationList: {
            /** Destinations */
            destinations: components["schemas"]["Destination"][];
            /**
             * Max
             * @description how many destinations a channel may have
             */
            max: number;
        };
        /**
         * DestinationStatus
         * @description One destination's forwarding, as the worker last reported it.
         */
        DestinationStatus: {
            /**
             * Attempts
             * @description connections tried in this broadcast
             * @default 0
             */
            attempts: number;
            /**
             * Bitrate Kbps
             * @description what is being sent, while live
             */
            bitrate_kbps?: number | null;
            /**
             * Dropped Seconds
             * @description media this destination missed (too slow, reconnecting)
             * @default 0
             */
            dropped_seconds: number;
            /** Id */
            id: string;
            /** Name */
            name: string;
            /**
             * Reason
             * @description why it is retrying or failed
             */
            reason?: string | null;
            /**
             * Retry In Seconds
             * @description while retrying
             */
            retry_in_seconds?: number | null;
            /**
             * State
             * @description connecting; live (the service takes the stream); retrying (after a failure, with backoff); failed (given up: `reason` says why)
             * @enum {string}
             */
            state: "connecting" | "live" | "retrying" | "failed";
        };
        /**
         * DestinationsUpdate
         * @description The whole list: destinations left out are removed.
         */
        DestinationsUpdate: {
            /** Destinations */
            destinations: components["schemas"]["DestinationInput"][];
        };
        /** FollowEntry */
        FollowEntry: {
            /**
             * Display Name
             * @description null when the account no longer exists
             */
            display_name: string | null;
            /**
             * Followed At
             * Format: date-time
             */
            followed_at: string;
            /** Username */
            username: string;
        };
        /** FollowPage */
        FollowPage: {
            /** Items */
            items: components["schemas"]["FollowEntry"][];
            /**
             * Next Cursor
             * @description pass as `cursor` for the next page; null on the last page
             */
            next_cursor: string | null;
        };
        /** FollowState */
        FollowState: {
            /**
             * Followers Count
             * @description the target's follower count after the change
             */
            followers_count: number;
            /** Following */
            following: boolean;
        };
        /** HealthReport */
        HealthReport: {
            /** Checks */
            checks: {
                [key: string]: components["schemas"]["CheckResult"];
            };
            /** Service */
            service: string;
            /**
             * Status
             * @enum {string}
             */
            status: "ok" | "degraded";
            /** Version */
            version: string;
        };
        /**
         * IngestWarning
         * @description Something the ladder had to do because of the streamer's settings, said plainly.
         */
        IngestWarning: {
            /**
             * Code
             * @enum {string}
             */
            code: "keyframe-interval" | "frame-rate-capped" | "resolution-capped" | "bitrate-capped" | "codec-converted";
            /**
             * Message
             * @description what happened and what it costs the viewers
             */
            message: string;
            /**
             * Setting
             * @description the exact encoder setting to change
             */
            setting?: string | null;
        };
        /** LiveChannel */
        LiveChannel: {
            /** Category */
            category: string | null;
            /** Playback Url */
            playback_url: string;
            /**
             * Started At
             * Format: date-time
             */
            started_at: string;
            /** Tags */
            tags: string[];
            /** Thumbnail Url */
            thumbnail_url: string | null;
            /** Title */
            title: string;
            /** Username */
            username: string;
            /** Viewer Count */
            viewer_count: number;
        };
        /** LivePage */
        LivePage: {
            /** Items */
            items: components["schemas"]["LiveChannel"][];
            /**
             * Next Cursor
             * @description pass as `cursor` for the next page; null on the last page
             */
            next_cursor: string | null;
        };
        /** LoginRequest */
        LoginRequest: {
            /**
             * Password
             * Format: password
             */
            password: string;
            /**
             * Refresh Token In Body
             * @description also return the refresh token in the body (API clients without a cookie jar); browsers leave this false and keep it only in the HttpOnly cookie
             * @default false
             */
            refresh_token_in_body: boolean;
            /**
             * Username
             * @description the username or the email
             */
            username: string;
        };
        /**
         * MyChannel
         * @description `GET /streams/me`: the caller's channel settings (never the key itself).
         */
        MyChannel: {
            /** Category */
            category: string | null;
            /** Has Key */
            has_key: boolean;
            /**
             * Key Created At
             * @description when the current key was made; null without a key (or for a key older than this field)
             */
            key_created_at: string | null;
            /** Live */
            live: boolean;
            /** Started At */
            started_at: string | null;
            /** Tags */
            tags: string[];
            /** Title */
            title: string;
            /** Username */
            username: string;
        };
        /**
         * Problem
         * @description An RFC 9457 problem document; `type` is stable, clients branch on it.
         */
        Problem: {
            /** @description what went wrong, for a person */
            detail: string;
            /** @description 422 only: each invalid part of the request (the value itself is never echoed) */
            errors?: {
                loc: (string | number)[];
                msg: string;
                type: string;
            }[];
            /** @description the request path */
            instance?: string;
            status: number;
            /** @description the HTTP status phrase */
            title: string;
            /**
             * Format: uri
             * @description https://letslive.dev/problems/<code>
             */
            type: string;
        };
        /** Profile */
        Profile: {
            /** Avatar Url */
            avatar_url: string | null;
            /** Bio */
            bio: string;
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /** Display Name */
            display_name: string;
            /** Followers Count */
            followers_count: number;
            /** Following Count */
            following_count: number;
            /** Live */
            live: boolean;
            /** Username */
            username: string;
        };
        /**
         * ProfilePatch
         * @description `PATCH /users/me`: only the fields present change; `avatar_url: null` clears the avatar.
         */
        ProfilePatch: {
            /**
             * Avatar Url
             * @description an https URL; null removes the avatar
             */
            avatar_url?: string | null;
            /**
             * Bio
             * @description trimmed; newlines allowed; "" clears it
             */
            bio?: string;
            /**
             * Display Name
             * @description trimmed; 1-40 characters
             */
            display_name?: string;
        };
        /** PublicAccount */
        PublicAccount: {
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /** Display Name */
            display_name: string;
            /** Username */
            username: string;
        };
        /**
         * PublicProfile
         * @description `GET /users/{username}`: `followed_by_me` is present only when the caller is signed in.
         */
        PublicProfile: {
            /** Avatar Url */
            avatar_url: string | null;
            /** Bio */
            bio: string;
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /** Display Name */
            display_name: string;
            /** Followed By Me */
            followed_by_me?: boolean | null;
            /** Followers Count */
            followers_count: number;
            /** Following Count */
            following_count: number;
            /** Live */
            live: boolean;
            /** Username */
            username: string;
        };
        /**
         * RefreshRequest
         * @description `/auth/refresh` and `/auth/logout`: the token in the body, or else in the refresh cookie.
         */
        RefreshRequest: {
            /** Refresh Token */
            refresh_token?: string | null;
        };
        /**
         * ReplayedMessage
         * @description A chat message as a VOD's chat replay gives it (`GET /vods/{vod_id}/chat`).
         */
        ReplayedMessage: {
            /** Badges */
            badges: ("broadcaster" | "moderator")[];
            /** Display Name */
            display_name: string;
            /** Id */
            id: string;
            /**
             * Offset Seconds
             * @description seconds from the VOD's `started_at` to `ts`
             */
            offset_seconds: number;
            /** Text */
            text: string;
            /**
             * Ts
             * Format: date-time
             * @description when it was sent
             */
            ts: string;
            /** User */
            user: string;
        };
        /**
         * RoomSettings
         * @description The chat settings page of a channel (owner and moderators).
         */
        RoomSettings: {
            /** Bans */
            bans: components["schemas"]["BanEntry"][];
            /** Channel */
            channel: string;
            /** Moderators */
            moderators: string[];
            /** Slow Seconds */
            slow_seconds: number;
            /** Viewers */
            viewers: number;
        };
        /**
         * RungReport
         * @description One rendition the viewers get.
         */
        RungReport: {
            /**
             * Copied
             * @description the source itself, passed through without re-encoding
             */
            copied: boolean;
            /** Fps */
            fps: number;
            /** Height */
            height: number;
            /** Name */
            name: string;
            /** Width */
            width: number;
        };
        /** SignupRequest */
        SignupRequest: {
            /**
             * Email
             * Format: email
             */
            email: string;
            /**
             * Password
             * Format: password
             * @description 10-128 characters (after NFKC), not a common password, not containing the username
             */
            password: string;
            /**
             * Username
             * @description 3-25 letters, digits or underscores; not a reserved name (in any case)
             */
            username: string;
        };
        /**
         * StreamHealthReport
         * @description `GET /streams/me/health`: the live session as the ingest worker last reported it (all
         *     measurements null, lists empty, until it has), with what the dashboard needs to show it, so
         *     that one answer says whether the streamer is live (404 `not-live` when not).
         */
        StreamHealthReport: {
            /** Audio Codec */
            audio_codec: string | null;
            /** Broadcast Id */
            broadcast_id: string;
            /**
             * Destinations
             * @description restream: each enabled destination's forwarding
             */
            destinations: components["schemas"]["DestinationStatus"][];
            /** Fps */
            fps: number | null;
            /** Height */
            height: number | null;
            /** Input Bitrate Kbps */
            input_bitrate_kbps: number | null;
            /**
             * Keyframe Interval Seconds
             * @description the longest gap between the source's keyframes lately measured
             */
            keyframe_interval_seconds: number | null;
            /** Last Segment At */
            last_segment_at: string | null;
            /**
             * Playback Url
             * @description the live master playlist (HLS); playable once a segment is made
             */
            playback_url: string;
            /**
             * Resolution
             * @description "<width>x<height>", null until reported
             */
            resolution: string | null;
            /**
             * Rungs
             * @description best first
             */
            rungs: components["schemas"]["RungReport"][];
            /**
             * Started At
             * Format: date-time
             */
            started_at: string;
            /**
             * Top Rung
             * @description whether the best rendition is the source itself
             */
            top_rung: ("copied" | "re-encoded") | null;
            /**
             * Top Rung Reason
             * @description why it is copied or re-encoded
             */
            top_rung_reason: string | null;
            /**
             * Transcode Speed
             * @description media seconds encoded per second: below 1.0 the ladder falls behind
             */
            transcode_speed: number | null;
            /**
             * Updated At
             * @description when the worker last reported; null until it has
             */
            updated_at: string | null;
            /** Video Codec */
            video_codec: string | null;
            /** Viewer Count */
            viewer_count: number;
            /** Warnings */
            warnings: components["schemas"]["IngestWarning"][];
            /** Width */
            width: number | null;
        };
        /** StreamKeyCreated */
        StreamKeyCreated: {
            /**
             * Ingest Url Hint
             * @description the server to put into the broadcasting software
             */
            ingest_url_hint: string;
            /**
             * Stream Key
             * @description shown this once: only its hash is stored
             */
            stream_key: string;
        };
        /**
         * TokenRefreshRequest
         * @description `/auth/refresh`: `RefreshRequest`, and whether the new refresh token goes in the body too.
         */
        TokenRefreshRequest: {
            /** Refresh Token */
            refresh_token?: string | null;
            /**
             * Refresh Token In Body
             * @description also return the refresh token in the body (API clients without a cookie jar); browsers leave this false and keep it only in the HttpOnly cookie
             * @default false
             */
            refresh_token_in_body: boolean;
        };
        /** TokenResponse */
        TokenResponse: {
            /** Access Token */
            access_token: string;
            /**
             * Expires In
             * @description seconds until the access token expires
             */
            expires_in: number;
            /**
             * Refresh Token
             * @description single use; only when the request set `refresh_token_in_body`
             */
            refresh_token?: string | null;
            /**
             * Token Type
             * @default Bearer
             * @constant
             */
            token_type: "Bearer";
        };
        /**
         * Vod
         * @description `GET /vods/{id}`. URLs are under the media base URL (just the path when none is set).
         */
        Vod: {
            /** Category */
            category: string | null;
            /** Duration Seconds */
            duration_seconds: number;
            /**
             * Expires At
             * Format: date-time
             * @description after this the VOD is gone
             */
            expires_at: string;
            /** Playback Url */
            playback_url: string;
            /** Rungs */
            rungs: components["schemas"]["VodRung"][];
            /**
             * Started At
             * Format: date-time
             */
            started_at: string;
            /** Thumbnail Url */
            thumbnail_url: string | null;
            /** Title */
            title: string;
            /** Username */
            username: string;
            /** Vod Id */
            vod_id: string;
        };
        /** VodPage */
        VodPage: {
            /** Items */
            items: components["schemas"]["Vod"][];
            /**
             * Next Cursor
             * @description pass as `cursor` for the next page; null on the last page
             */
            next_cursor: string | null;
        };
        /**
         * VodRung
         * @description One rendition of a VOD. `bandwidth` is in bits per second, as in the master playlist.
         */
        VodRung: {
            /** Bandwidth */
            bandwidth: number;
            /**
             * Height
             * @description 0 for the one rendition of an audio-only broadcast
             */
            height: number;
            /** Name */
            name: string;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    jwks_auth__well_known_jwks_json_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                };
            };
        };
    };
    health_auth_health_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthReport"];
                };
            };
            /** @description a table did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthReport"];
                };
            };
        };
    };
    login_auth_login_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: {
                letslive_refresh?: string | null;
            };
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["LoginRequest"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TokenResponse"];
                };
            };
            /** @description a body that is not JSON (`bad-request`) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description wrong username or password (`invalid-credentials`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description too many failed logins (`rate-limited`) */
            429: {
                headers: {
                    /** @description seconds to wait before trying again (on every problem document) */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Too Many Requests";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    logout_auth_logout_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: {
                letslive_refresh?: string | null;
            };
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["RefreshRequest"] | null;
            };
        };
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description a body that is not JSON (`bad-request`) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    me_auth_me_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CallerIdentity"];
                };
            };
            /** @description missing, expired or invalid access token (`unauthorized`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    refresh_auth_refresh_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: {
                letslive_refresh?: string | null;
            };
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["TokenRefreshRequest"] | null;
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TokenResponse"];
                };
            };
            /** @description a body that is not JSON (`bad-request`) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description unknown, expired, revoked or used refresh token (`invalid-refresh-token`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    signup_auth_signup_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SignupRequest"];
            };
        };
        responses: {
            /** @description Successful Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PublicAccount"];
                };
            };
            /** @description a reserved username (`invalid-input`) or a weak password (`weak-password`); or a body that is not JSON (`bad-request`) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the username or email is taken (`conflict`) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description too many sign-ups from this address (`rate-limited`) */
            429: {
                headers: {
                    /** @description seconds to wait before trying again (on every problem document) */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Too Many Requests";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    health_chat_health_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthReport"];
                };
            };
            /** @description a table did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthReport"];
                };
            };
        };
    };
    room_settings_chat__channel__settings_get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                channel: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RoomSettings"];
                };
            };
            /** @description missing, expired or invalid access token (`unauthorized`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description not the channel's owner or a moderator (`forbidden`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description no such channel (`channel-not-found`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Not Found";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    list_clips_clips_get: {
        parameters: {
            query: {
                channel: string;
                /** @description clips per page */
                limit?: number;
                cursor?: string | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ClipPage"];
                };
            };
            /** @description a cursor this list did not issue (`invalid-cursor`) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description a name that cannot be a channel (`channel-not-found`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    create_clip_clips_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ClipRequest"];
            };
        };
        responses: {
            /** @description Successful Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Clip"];
                };
            };
            /** @description a range the broadcast does not have, yet or any more, or lost (`clip-out-of-range`); or a body that is not JSON (`bad-request`) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing, expired or invalid access token (`unauthorized`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description no such broadcast, or it has no media (`broadcast-not-found`); its VOD is gone (`vod-not-found`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description too many clips from the caller lately (`rate-limited`, with Retry-After) */
            429: {
                headers: {
                    /** @description seconds to wait before trying again (on every problem document) */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Too Many Requests";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    most_viewed_clips_top_get: {
        parameters: {
            query: {
                channel: string;
                /** @description clips per page */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ClipList"];
                };
            };
            /** @description a name that cannot be a channel (`channel-not-found`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    get_clip_clips__clip_id__get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                clip_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Clip"];
                };
            };
            /** @description no such clip: never made, or deleted (`clip-not-found`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Not Found";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    delete_clip_clips__clip_id__delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                clip_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description missing, expired or invalid access token (`unauthorized`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description neither its creator, the channel owner nor one of its moderators (`forbidden`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description no such clip: never made, or deleted (`clip-not-found`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Not Found";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    clip_chat_clips__clip_id__chat_get: {
        parameters: {
            query?: {
                /** @description seconds after the clip's start */
                from?: number;
                /** @description seconds after its start (its end if absent); not after `from`: an empty page */
                to?: number | null;
                /** @description messages per page */
                limit?: number;
                cursor?: string | null;
            };
            header?: never;
            path: {
                clip_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ChatReplayPage"];
                };
            };
            /** @description a cursor this replay did not issue (`invalid-cursor`) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description no such clip: never made, or deleted (`clip-not-found`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Not Found";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    retry_download_clips__clip_id__download_post: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                clip_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Clip"];
                };
            };
            /** @description missing, expired or invalid access token (`unauthorized`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description neither its creator, the channel owner nor one of its moderators (`forbidden`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description no such clip: never made, or deleted (`clip-not-found`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Not Found";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description its MP4 is ready or being made (`download-not-failed`) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    count_view_clips__clip_id__views_post: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                clip_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Clip"];
                };
            };
            /** @description no such clip: never made, or deleted (`clip-not-found`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Not Found";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    health_streams_health_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthReport"];
                };
            };
            /** @description a table did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthReport"];
                };
            };
        };
    };
    live_streams_live_get: {
        parameters: {
            query?: {
                /** @description channels per page */
                limit?: number;
                cursor?: string | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LivePage"];
                };
            };
            /** @description a cursor this list did not issue (`invalid-cursor`) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    get_me_streams_me_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["MyChannel"];
                };
            };
            /** @description missing, expired or invalid access token (`unauthorized`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    update_me_streams_me_patch: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ChannelPatch"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["MyChannel"];
                };
            };
            /** @description a body that is not JSON (`bad-request`) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing, expired or invalid access token (`unauthorized`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    get_destinations_streams_me_destinations_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DestinationList"];
                };
            };
            /** @description missing, expired or invalid access token (`unauthorized`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    put_destinations_streams_me_destinations_put: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["DestinationsUpdate"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DestinationList"];
                };
            };
            /** @description a new destination without its key, an id that is not saved, the same id twice, or a server that is not a public address (`invalid-destination`); or a body that is not JSON (`bad-request`) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing, expired or invalid access token (`unauthorized`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    get_health_streams_me_health_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["StreamHealthReport"];
                };
            };
            /** @description missing, expired or invalid access token (`unauthorized`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the caller is not live (`not-live`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    create_key_streams_me_key_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["StreamKeyCreated"];
                };
            };
            /** @description missing, expired or invalid access token (`unauthorized`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    get_channel_streams__username__get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                username: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ChannelState"];
                };
            };
            /** @description a name that cannot be a channel (`channel-not-found`); any valid one is a channel */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Not Found";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    health_users_health_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthReport"];
                };
            };
            /** @description a table did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthReport"];
                };
            };
        };
    };
    update_me_users_me_patch: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ProfilePatch"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Profile"];
                };
            };
            /** @description a body that is not JSON (`bad-request`) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description missing, expired or invalid access token (`unauthorized`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the caller's account is gone */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    get_profile_users__username__get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                username: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PublicProfile"];
                };
            };
            /** @description missing, expired or invalid access token (`unauthorized`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description no such user (`user-not-found`; also any name that cannot be a handle) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Not Found";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    follow_users__username__follow_put: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                username: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["FollowState"];
                };
            };
            /** @description missing, expired or invalid access token (`unauthorized`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description no such user (`user-not-found`; also any name that cannot be a handle) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Not Found";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the target is the caller (`cannot-follow-self`) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    unfollow_users__username__follow_delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                username: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["FollowState"];
                };
            };
            /** @description missing, expired or invalid access token (`unauthorized`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description no such user (`user-not-found`; also any name that cannot be a handle) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Not Found";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the target is the caller (`cannot-follow-self`) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    followers_users__username__followers_get: {
        parameters: {
            query?: {
                /** @description entries per page */
                limit?: number;
                cursor?: string | null;
            };
            header?: never;
            path: {
                username: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["FollowPage"];
                };
            };
            /** @description a cursor this list did not issue (`invalid-cursor`) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description no such user (`user-not-found`; also any name that cannot be a handle) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Not Found";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    following_users__username__following_get: {
        parameters: {
            query?: {
                /** @description entries per page */
                limit?: number;
                cursor?: string | null;
            };
            header?: never;
            path: {
                username: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["FollowPage"];
                };
            };
            /** @description a cursor this list did not issue (`invalid-cursor`) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description no such user (`user-not-found`; also any name that cannot be a handle) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Not Found";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    list_vods_vods_get: {
        parameters: {
            query: {
                channel: string;
                /** @description VODs per page */
                limit?: number;
                cursor?: string | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VodPage"];
                };
            };
            /** @description a cursor this list did not issue (`invalid-cursor`) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description a name that cannot be a channel (`channel-not-found`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    health_vods_health_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthReport"];
                };
            };
            /** @description a table did not answer */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthReport"];
                };
            };
        };
    };
    get_vod_vods__vod_id__get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vod_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vod"];
                };
            };
            /** @description no such VOD: never recorded, deleted or expired (`vod-not-found`); `not-found` for what is no VOD id */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Not Found";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    delete_vod_vods__vod_id__delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vod_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description missing, expired or invalid access token (`unauthorized`) */
            401: {
                headers: {
                    /** @description Bearer realm="letslive" */
                    "WWW-Authenticate": string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description not the channel owner (`forbidden`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description no such VOD: never recorded, deleted or expired (`vod-not-found`); `not-found` for what is no VOD id */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Not Found";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    vod_chat_vods__vod_id__chat_get: {
        parameters: {
            query?: {
                /** @description seconds after the VOD's start */
                from?: number;
                /** @description seconds after its start (its end if absent); not after `from`: an empty page */
                to?: number | null;
                /** @description messages per page */
                limit?: number;
                cursor?: string | null;
            };
            header?: never;
            path: {
                vod_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ChatReplayPage"];
                };
            };
            /** @description a cursor this replay did not issue (`invalid-cursor`) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description no such VOD: never recorded, deleted or expired (`vod-not-found`); `not-found` for what is no VOD id */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        message: "Not Found";
                    };
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description the request does not match this document (`validation`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
}

// Runtime configuration: `/config.json` on this origin (written by the deployment; served by the
// local edge in `make dev`). The chat WebSocket is not on this origin, so its URL comes from here.

import { useState } from "react";

import type { RuntimeConfig } from "./types";
import { useAsyncEffect } from "./useAsyncEffect";

const EMPTY: RuntimeConfig = { websocket_url: null, ingest_url: null };
let loaded: Promise<RuntimeConfig> | null = null;

export function loadConfig(): Promise<RuntimeConfig> {
  loaded ??= fetch("/config.json", { cache: "no-store" })
    .then((response) => (response.ok ? (response.json() as Promise<Partial<RuntimeConfig>>) : {}))
    .then((config) => ({ ...EMPTY, ...config }))
    .catch(() => {
      loaded = null; // try again next time
      return EMPTY;
    });
  return loaded;
}

/** The runtime config, or null until it has loaded. */
export function useConfig(): RuntimeConfig | null {
  const [config, setConfig] = useState<RuntimeConfig | null>(null);
  useAsyncEffect(() => loadConfig(), [], setConfig);
  return config;
}

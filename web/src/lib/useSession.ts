import { useSyncExternalStore } from "react";

import { getSession, type Session, subscribe } from "./session";

const LOADING: Session = { status: "loading" };

/** The session (re-renders on sign-in/out); "loading" until the first refresh has answered. */
export function useSession(): Session {
  return useSyncExternalStore(subscribe, getSession, () => LOADING);
}

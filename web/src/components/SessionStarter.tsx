"use client";

import { useEffect } from "react";

import { startSession } from "@/lib/session";

/** On app load: a silent refresh from the HttpOnly cookie (the access token is never stored). */
export default function SessionStarter() {
  useEffect(() => startSession(), []);
  return null;
}

"use client";

import { useRouter } from "next/navigation";
import { type ReactNode, useEffect } from "react";

import { useSession } from "@/lib/useSession";

/** Children only when signed in; otherwise off to the login page (and back here after). */
export default function RequireSignIn({ next, children }: { next: string; children: (username: string) => ReactNode }) {
  const session = useSession();
  const router = useRouter();
  useEffect(() => {
    if (session.status === "anonymous") router.replace(`/login/?next=${encodeURIComponent(next)}`);
  }, [session.status, router, next]);
  if (session.status !== "signed-in") return <div className="page-loading">Loading…</div>;
  return <>{children(session.username)}</>;
}

"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";

import { logout } from "@/lib/session";
import { useSession } from "@/lib/useSession";

export default function NavBar() {
  const session = useSession();
  const router = useRouter();
  return (
    <nav className="nav">
      <Link href="/" className="nav-logo">
        <span className="nav-logo-mark">▶</span> Let&apos;s Live
      </Link>
      <Link href="/" className="nav-link">
        Browse
      </Link>
      <span className="spacer" />
      {session.status === "signed-in" && (
        <>
          <Link href="/dashboard/" className="nav-link" data-testid="nav-dashboard">
            Dashboard
          </Link>
          <Link href="/settings/" className="nav-link">
            Settings
          </Link>
          <Link href={`/channel/?u=${encodeURIComponent(session.username)}`} className="nav-user" data-testid="nav-user">
            {session.username}
          </Link>
          <button
            type="button"
            className="btn btn-small"
            data-testid="logout"
            onClick={() => void logout().then(() => router.push("/"))}
          >
            Log out
          </button>
        </>
      )}
      {session.status === "anonymous" && (
        <>
          <Link href="/login/" className="btn btn-small" data-testid="nav-login">
            Log in
          </Link>
          <Link href="/signup/" className="btn btn-small btn-primary" data-testid="nav-signup">
            Sign up
          </Link>
        </>
      )}
    </nav>
  );
}

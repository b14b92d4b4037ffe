"use client";

import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { type FormEvent, Suspense, useState } from "react";

import ErrorBox from "@/components/ErrorBox";
import { safeNext } from "@/lib/nav";
import { login } from "@/lib/session";
import { useAction } from "@/lib/useAction";
import { useSession } from "@/lib/useSession";

function LoginForm() {
  const router = useRouter();
  const next = safeNext(useSearchParams().get("next"));
  const session = useSession();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const { busy, error, run } = useAction(true);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      await login(username.trim(), password);
      router.replace(next);
    });
  };

  if (session.status === "signed-in" && !busy) {
    return (
      <div className="auth-box">
        <h1>You are logged in</h1>
        <p>
          as <strong>{session.username}</strong>. <Link href={next}>Continue</Link>
        </p>
      </div>
    );
  }

  return (
    <div className="auth-box">
      <h1>Log in to Let&apos;s Live</h1>
      <form className="form" onSubmit={submit}>
        <label>
          Username or email
          <input
            name="username"
            data-testid="login-username"
            autoComplete="username"
            value={username}
            onChange={(event) => setUsername(event.target.value)}
            required
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            data-testid="login-password"
            autoComplete="current-password"
            value={password}
            onChange={(event) => setPassword(event.target.value)}
            required
          />
        </label>
        <ErrorBox error={error} />
        <button className="btn btn-primary" type="submit" data-testid="login-submit" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
        <p className="muted">
          No account yet? <Link href={`/signup/?next=${encodeURIComponent(next)}`}>Sign up</Link>
        </p>
      </form>
    </div>
  );
}

export default function LoginPage() {
  return (
    <div className="auth-page">
      <Suspense fallback={<div className="page-loading">Loading…</div>}>
        <LoginForm />
      </Suspense>
    </div>
  );
}

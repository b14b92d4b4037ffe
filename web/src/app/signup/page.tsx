"use client";

import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { type FormEvent, Suspense, useState } from "react";

import ErrorBox from "@/components/ErrorBox";
import { api } from "@/lib/api";
import { safeNext } from "@/lib/nav";
import { login } from "@/lib/session";
import type { SignupRequest } from "@/lib/types";
import { useAction } from "@/lib/useAction";

function SignupForm() {
  const router = useRouter();
  const next = safeNext(useSearchParams().get("next"));
  const [username, setUsername] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const { busy, error, run } = useAction(true);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      const name = username.trim();
      const body: SignupRequest = { username: name, email: email.trim(), password };
      await api("/auth/signup", { method: "POST", body, auth: "none" });
      await login(name, password);
      router.replace(next);
    });
  };

  return (
    <div className="auth-box">
      <h1>Join Let&apos;s Live</h1>
      <form className="form" onSubmit={submit}>
        <label>
          Username
          <input
            name="username"
            data-testid="signup-username"
            autoComplete="username"
            value={username}
            minLength={3}
            maxLength={25}
            pattern="[A-Za-z0-9_]{3,25}"
            onChange={(event) => setUsername(event.target.value)}
            required
          />
          <span className="hint">3–25 letters, digits or underscores. It is your channel&apos;s address.</span>
        </label>
        <label>
          Email
          <input
            name="email"
            type="email"
            data-testid="signup-email"
            autoComplete="email"
            value={email}
            onChange={(event) => setEmail(event.target.value)}
            required
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            data-testid="signup-password"
            autoComplete="new-password"
            value={password}
            minLength={10}
            maxLength={128}
            onChange={(event) => setPassword(event.target.value)}
            required
          />
          <span className="hint">At least 10 characters; not a common password, not containing your username.</span>
        </label>
        <ErrorBox error={error} />
        <button className="btn btn-primary" type="submit" data-testid="signup-submit" disabled={busy}>
          {busy ? "Creating your account…" : "Sign up"}
        </button>
        <p className="muted">
          Already have an account? <Link href={`/login/?next=${encodeURIComponent(next)}`}>Log in</Link>
        </p>
      </form>
    </div>
  );
}

export default function SignupPage() {
  return (
    <div className="auth-page">
      <Suspense fallback={<div className="page-loading">Loading…</div>}>
        <SignupForm />
      </Suspense>
    </div>
  );
}

// The HTTP API on this origin (`/api/*`). Errors are RFC 9457 problem documents.

import { currentAccessToken, freshAccessToken, refresh } from "./session";

export interface ProblemIssue {
  loc: (string | number)[];
  msg: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly code: string | null = null,
    readonly issues: ProblemIssue[] = [],
    readonly retryAfter: number | null = null,
  ) {
    super(detail || title);
    this.name = "ApiError";
  }
}

type Auth = "none" | "optional" | "required";

export interface ApiOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  body?: unknown;
  /** `optional` (default): send the token when signed in; `required`: refresh first if needed. */
  auth?: Auth;
  signal?: AbortSignal;
}

async function problemFrom(response: Response): Promise<ApiError> {
  const retryAfter = Number(response.headers.get("Retry-After")) || null;
  const type = response.headers.get("Content-Type") ?? "";
  if (type.includes("json")) {
    try {
      const body = (await response.json()) as {
        title?: string;
        detail?: string;
        type?: string;
        errors?: ProblemIssue[];
      };
      const code = body.type?.split("/").pop() ?? null;
      return new ApiError(
        response.status,
        body.title ?? response.statusText,
        body.detail ?? "",
        code,
        Array.isArray(body.errors) ? body.errors : [],
        retryAfter,
      );
    } catch {
      // fall through: not the JSON it claimed to be
    }
  }
  const text = response.status >= 500 ? "" : (await response.text().catch(() => "")).slice(0, 200);
  return new ApiError(response.status, response.statusText || `HTTP ${response.status}`, text, null, [], retryAfter);
}

async function send(path: string, options: ApiOptions, token: string | null): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  return fetch(`/api${path}`, {
    method: options.method ?? "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    credentials: "same-origin",
    cache: "no-store",
    signal: options.signal,
  });
}

const RETRYABLE = new Set([502, 503, 504]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A GET that met a gateway error (a Lambda cold start or throttle) is tried twice more. */
async function sendWithRetry(path: string, options: ApiOptions, token: string | null): Promise<Response> {
  const idempotent = (options.method ?? "GET") === "GET";
  for (let attempt = 0; ; attempt += 1) {
    const response = await send(path, options, token);
    if (!idempotent || attempt >= 2 || !RETRYABLE.has(response.status)) return response;
    await sleep(500 * 2 ** attempt);
  }
}

/** Call the API; on a 401 refresh the session once and retry. Throws `ApiError`. */
export async function api<T>(path: string, options: ApiOptions = {}): Promise<T> {
  const auth = options.auth ?? "optional";
  let token: string | null = null;
  if (auth === "required") token = await freshAccessToken();
  else if (auth === "optional") token = currentAccessToken() ?? (await freshAccessToken());
  let response: Response;
  try {
    response = await sendWithRetry(path, options, token);
    if (response.status === 401 && auth !== "none") {
      const renewed = await refresh();
      if (renewed || (auth === "optional" && token)) response = await sendWithRetry(path, options, renewed);
    }
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "Network error", "The server could not be reached. Check your connection and retry.");
  }
  if (!response.ok) throw await problemFrom(response);
  if (response.status === 204) return undefined as T;
  const type = response.headers.get("Content-Type") ?? "";
  return (type.includes("json") ? await response.json() : await response.text()) as T;
}

/** One line for a person: the problem's title and detail, and what was wrong with each field. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    const fields = error.issues.map((issue) => {
      const field = issue.loc.filter((part) => part !== "body").join(".");
      return field ? `${field}: ${issue.msg}` : issue.msg;
    });
    const head = error.detail && error.detail !== error.title ? `${error.title}: ${error.detail}` : error.title;
    const wait = error.retryAfter ? ` Try again in ${error.retryAfter} s.` : "";
    return [head + (fields.length ? "." : ""), ...fields].join(" ") + wait;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

export function isNotFound(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404;
}

// The HTTP API on this origin (`/api/*`) with the session's access token. Errors are RFC 9457
// problem documents, thrown as `ApiError` (the transport and the errors live in `http.ts`, which
// the session uses too: imports go one way, api → session → http).

import { reach, readResponse, type RequestOptions, sendWithRetry } from "./http";
import { currentAccessToken, freshAccessToken, refresh } from "./session";

export { ApiError, describeError, isNotFound, type ProblemIssue } from "./http";

type Auth = "none" | "optional" | "required";

export interface ApiOptions extends RequestOptions {
  /** `optional` (default): send the token when signed in; `required`: refresh first if needed. */
  auth?: Auth;
}

/** Call the API; on a 401 refresh the session once and retry. Throws `ApiError`. */
export async function api<T>(path: string, options: ApiOptions = {}): Promise<T> {
  const auth = options.auth ?? "optional";
  let token: string | null = null;
  if (auth === "required") token = await freshAccessToken();
  else if (auth === "optional") token = currentAccessToken() ?? (await freshAccessToken());
  const response = await reach(async () => {
    const first = await sendWithRetry(path, options, token);
    if (first.status !== 401 || auth === "none") return first;
    const renewed = await refresh();
    return renewed || (auth === "optional" && token) ? sendWithRetry(path, options, renewed) : first;
  });
  return readResponse<T>(response);
}

import { useEffect, useRef } from "react";

/** Run `task` now and then every `intervalMs` (while the page is visible), until unmounted or
 *  `enabled` turns false. A slow task never overlaps itself. `signal` aborts when the poll stops
 *  (unmounted, disabled, deps changed): pass it to `api()` so a request in flight is dropped, or
 *  check `signal.aborted` before using an answer that is no longer wanted. */
export function usePoll(
  task: (signal: AbortSignal) => Promise<void> | void,
  intervalMs: number,
  enabled = true,
  deps: unknown[] = [],
) {
  const latest = useRef(task);
  latest.current = task;
  useEffect(() => {
    if (!enabled) return;
    const stop = new AbortController();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const tick = async () => {
      if (stop.signal.aborted) return;
      if (typeof document === "undefined" || document.visibilityState !== "hidden") {
        try {
          await latest.current(stop.signal);
        } catch {
          // the task shows its own errors (an abort is the poll stopping)
        }
      }
      if (!stop.signal.aborted) timer = setTimeout(tick, intervalMs);
    };
    void tick();
    return () => {
      stop.abort();
      if (timer) clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [intervalMs, enabled, ...deps]);
}

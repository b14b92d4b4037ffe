import { useEffect, useRef } from "react";

/** Run `task` now and then every `intervalMs` (while the page is visible), until unmounted or
 *  `enabled` turns false. A slow task never overlaps itself. */
export function usePoll(task: () => Promise<void> | void, intervalMs: number, enabled = true, deps: unknown[] = []) {
  const latest = useRef(task);
  latest.current = task;
  useEffect(() => {
    if (!enabled) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const tick = async () => {
      if (stopped) return;
      if (typeof document === "undefined" || document.visibilityState !== "hidden") {
        try {
          await latest.current();
        } catch {
          // the task shows its own errors
        }
      }
      if (!stopped) timer = setTimeout(tick, intervalMs);
    };
    void tick();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [intervalMs, enabled, ...deps]);
}

import { type DependencyList, useCallback, useEffect, useRef } from "react";

/**
 * Load something whenever `deps` change, and hand over only the answer that is still wanted.
 *
 * `load` runs after each render whose `deps` changed (return null to load nothing this time);
 * its value goes to `onValue`, its failure to `onError` (left unhandled without one). A newer
 * load (deps changed, or `reload()`) or unmounting makes an older one stale: whatever it brings
 * back later is dropped, never set on state it no longer belongs to. The returned `reload()`
 * loads again now with the same deps (a no-op once unmounted); it is stable across renders.
 * `onValue` and `onError` may be inline functions: the newest ones are called.
 *
 * ESLint checks `deps` against `load` as it does an effect's (`additionalHooks`).
 */
export function useAsyncEffect<T>(
  load: () => Promise<T> | null,
  deps: DependencyList,
  onValue: (value: T) => void,
  onError?: (error: unknown) => void,
): () => void {
  const latest = useRef({ load, onValue, onError });
  latest.current = { load, onValue, onError };
  // Each load takes the next number; only the one holding the newest number may answer.
  const newest = useRef(0);
  const mounted = useRef(false);

  const start = useCallback((run: () => Promise<T> | null) => {
    newest.current += 1;
    const id = newest.current;
    run()?.then(
      (value) => {
        if (id === newest.current) latest.current.onValue(value);
      },
      (error: unknown) => {
        if (id !== newest.current) return;
        const onError = latest.current.onError;
        if (!onError) throw error;
        onError(error);
      },
    );
  }, []);

  useEffect(() => {
    mounted.current = true;
    start(load);
    return () => {
      mounted.current = false;
      newest.current += 1; // what is still in flight is stale now
    };
    // The caller's deps are the effect's: `load` is the one from the render that changed them.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  return useCallback(() => {
    if (mounted.current) start(latest.current.load);
  }, [start]);
}

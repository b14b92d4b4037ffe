import { useCallback, useState } from "react";

/**
 * One user action at a time (a form submit, a button): `busy` while it runs, its error if it
 * failed. `run` resolves to whether it succeeded. With `holdOnSuccess` the action stays busy
 * after succeeding (it navigates away, and the page must not flash its idle state meanwhile).
 */
export function useAction(holdOnSuccess = false) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const run = useCallback(
    async (action: () => Promise<void>): Promise<boolean> => {
      setBusy(true);
      setError(null);
      try {
        await action();
        if (!holdOnSuccess) setBusy(false);
        return true;
      } catch (err) {
        setError(err);
        setBusy(false);
        return false;
      }
    },
    [holdOnSuccess],
  );

  return { busy, error, setError, run };
}

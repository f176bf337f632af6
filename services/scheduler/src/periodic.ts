/** A task run every `ms`, never twice at once (a slow round makes the next one wait its turn). */
export interface Periodic {
  stop(): void;
}

/** Runs `task` every `ms` until stopped; a round that fails is handed to `onError` and the next comes as planned. */
export function every(ms: number, task: () => Promise<unknown>, onError: (error: Error) => void): Periodic {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    task()
      .catch(onError)
      .finally(() => (busy = false));
  }, ms);
  return { stop: () => clearInterval(timer) };
}

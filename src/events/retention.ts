/**
 * Runs the stores' retention (events and quarantine `prune()`) at start and
 * then on an interval. A failing prune is logged and retried next time; it
 * never stops the gateway. The timer is unref'ed so it never keeps the
 * process alive on its own.
 */
export interface StartRetentionOptions {
  /** Named prune functions, e.g. `{ events: () => events.prune(), quarantine: () => quarantine.prune() }`. */
  readonly tasks: Readonly<Record<string, () => number | Promise<number>>>;
  /** Interval between runs in ms. Default one hour. */
  readonly intervalMs?: number;
  readonly logger?: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

export interface RetentionTimer {
  /** Runs every task now; resolves to what each deleted. */
  runNow(): Promise<Record<string, number>>;
  stop(): void;
}

export function startRetention(options: StartRetentionOptions): RetentionTimer {
  const intervalMs = Math.max(1000, options.intervalMs ?? 60 * 60 * 1000);
  let running: Promise<Record<string, number>> | undefined;

  const runNow = (): Promise<Record<string, number>> => {
    // Never two runs at once: a slow prune on a big quarantine must not pile up.
    running ??= (async () => {
      const deleted: Record<string, number> = {};
      for (const [name, task] of Object.entries(options.tasks)) {
        try {
          deleted[name] = await task();
        } catch (err) {
          options.logger?.error({ task: name, err }, 'retention failed; will retry at the next interval');
        }
      }
      if (Object.values(deleted).some((n) => n > 0)) options.logger?.info({ deleted }, 'retention pruned old records');
      return deleted;
    })().finally(() => { running = undefined; });
    return running;
  };

  const timer = setInterval(() => { void runNow(); }, intervalMs);
  timer.unref();
  void runNow();
  return { runNow, stop: () => clearInterval(timer) };
}

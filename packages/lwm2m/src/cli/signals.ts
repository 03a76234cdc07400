/**
 * Resolves once the command should stop: `signal` aborts, or without one, SIGINT / SIGTERM.
 *
 * Until then a ref'd timer keeps the process alive: a command runs until it is stopped, even when nothing
 * else holds the event loop (a DTLS client between two handshake attempts has no socket open, and the
 * endpoint's retry timers are unref'd so an idle endpoint never holds a process open).
 */
export function untilStopped(signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const keepAlive = setInterval(() => {}, 0x7fffffff);
    const stop = () => {
      clearInterval(keepAlive);
      resolve();
    };
    if (signal !== undefined) {
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
      return;
    }
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

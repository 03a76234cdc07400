/** Captured stdout / stderr for running commands in tests. */
export function capture(tty = false) {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (d: string) => (out += d) },
      stderr: { write: (d: string) => (err += d), isTTY: tty },
    },
    out: () => out,
    err: () => err,
  };
}

/** Polls `check` until it gives a value (real time). */
export async function waitFor<T>(check: () => T | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

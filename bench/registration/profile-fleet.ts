/**
 * The fleet's own CPU per registration (the load generator of the registration benchmark), for
 * profiling the client side of a Register:
 *
 *   node --import tsx bench/registration/profile-fleet.ts [--count 5000] [--rounds 4] [--profile FILE]
 *     [--server-profile DIR]
 *
 * Our `Lwm2mServer` runs in a child process (bench/registration/server.ts); the fleet (`createUdpFleet`,
 * one UDP socket per device, at most 200 Registers in flight, no rate limit) runs here, and each round
 * reports this process's user + system CPU from the first Register to the last answer, per registration,
 * and the server's over the same time. Each round's fleet de-registers and closes afterwards. Bundled by
 * tsup with server.ts (as bench/registration.ts does) it runs without tsx's loader.
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import { createUdpFleet } from '../../packages/lwm2m/src/node/fleet.js';
import { procCpuMs } from './proc.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const count = Number(arg('count', '5000'));
const rounds = Number(arg('rounds', '4'));
/** `--profile FILE`: a CPU profile (.cpuprofile) of the registering parts of the last two rounds only. */
const profileFile = process.argv.includes('--profile') ? arg('profile', 'fleet.cpuprofile') : undefined;
const session = profileFile === undefined ? undefined : new Session();
if (session !== undefined) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
}

// bundled (`.js`, as bench/registration.ts runs it) the server is the bundle next to this file; else tsx
const bundled = import.meta.url.endsWith('.js');
/** `--server-profile DIR`: the server child writes a CPU profile of its whole run into DIR (node --cpu-prof). */
const serverProfile = process.argv.includes('--server-profile') ? arg('server-profile', '.') : undefined;
const server = fork(fileURLToPath(new URL(bundled ? './server.js' : './server.ts', import.meta.url)), [], {
  execArgv: [
    ...(bundled ? [] : ['--import', 'tsx']),
    ...(serverProfile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', serverProfile]),
  ],
});
/** The server child's user + system CPU in seconds (Linux). */
const serverCpu = (): number => {
  try {
    return procCpuMs(server.pid!) / 1000;
  } catch {
    return Number.NaN;
  }
};
const port = await new Promise<number>((resolve) =>
  server.on('message', (m: { kind: string; port?: number }) => {
    if (m.kind === 'ready') resolve(m.port!);
  }),
);
for (let r = 0; r < rounds; r++) {
  const fleet = createUdpFleet({
    count,
    serverUri: `coap://127.0.0.1:${port}`,
    prefix: `prof${r}`,
    rate: Number.POSITIVE_INFINITY,
    maxInFlight: 200,
    lifetime: 3600,
    temperatureInterval: 0,
    retry: { count: 1000, timer: 1, sequenceDelay: 5, sequenceCount: Number.POSITIVE_INFINITY },
  });
  await fleet.prepare();
  (globalThis as { gc?: () => void }).gc?.();
  const profiling = session !== undefined && r >= rounds - 2;
  if (profiling) await session.post('Profiler.start');
  const s0 = serverCpu();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fleet.start();
  await fleet.whenComplete();
  const t1 = performance.now();
  const c = process.cpuUsage(c0);
  const sc = serverCpu() - s0;
  if (profiling) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(`${profileFile}.${r}`, JSON.stringify(profile));
  }
  const s = fleet.stats();
  console.log(
    `round ${r}: ${s.everRegistered}/${count} registered, ${s.errors} errors, ` +
      `${((count * 1000) / (t1 - t0)).toFixed(0)}/s, fleet CPU ${((c.user + c.system) / count).toFixed(1)} µs/registration ` +
      `(user ${(c.user / count).toFixed(1)}, system ${(c.system / count).toFixed(1)}), ` +
      `server CPU ${((sc * 1e6) / count).toFixed(1)} µs/registration`,
  );
  // de-registering is not what is measured, but it frees the sockets (10,000 devices a round stay under
  // the open-file limit); the next round uses new names
  await fleet.stop({ concurrency: 500, timeout: 5000 });
}
// a clean exit, so that --cpu-prof writes the server's profile
server.send({ kind: 'stop' });
server.on('exit', () => process.exit(0));
setTimeout(() => process.exit(0), 5000);

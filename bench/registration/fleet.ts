/**
 * The load of the registration benchmark, run as a child process: a fleet of simulated devices
 * (`createUdpFleet`, one UDP socket each) registering with the server under test.
 *
 *   node fleet.js '<json FleetConfig>'
 *
 * Over IPC: `{ kind: 'prepared', seconds, rss }` once every device is built (sockets bound, not yet
 * registering), then `{ kind: 'progress', stats, rss }` every second while registering, `{ kind: 'complete', stats,
 * rss }` once every device registered (or failed); on `{ kind: 'stop' }` it de-registers everything and
 * answers `{ kind: 'stopped', seconds }`.
 */
import { createUdpFleet } from '../../packages/lwm2m/src/node/fleet.js';

export interface FleetConfig {
  readonly port: number;
  readonly count: number;
  readonly prefix: string;
  /** Registrations started per second (`null`: as fast as `inFlight` allows). */
  readonly rate: number | null;
  readonly inFlight: number;
  readonly bind: string;
  readonly lifetime: number;
  /** Seconds to wait for every device to register. */
  readonly timeout: number;
  /** Wait for `{ kind: 'go' }` after 'prepared' (several fleets started together). */
  readonly waitForGo?: boolean;
}

const config = JSON.parse(process.argv[2]!) as FleetConfig;
const fleet = createUdpFleet({
  count: config.count,
  serverUri: `coap://127.0.0.1:${config.port}`,
  bindAddress: config.bind,
  prefix: config.prefix,
  rate: config.rate ?? Number.POSITIVE_INFINITY,
  maxInFlight: config.inFlight,
  lifetime: config.lifetime,
  // the load is registrations only: no temperature changes, Updates only after 90 % of the lifetime
  temperatureInterval: 0,
  // a lost datagram is retransmitted by CoAP (2–3 s); a Register that got no answer at all is retried soon
  retry: { count: 1000, timer: 1, sequenceDelay: 5, sequenceCount: Number.POSITIVE_INFINITY },
});
const send = (m: object) => process.send?.(m);
const snapshot = (kind: string) => ({ kind, stats: fleet.stats(), rss: process.memoryUsage().rss });
process.on('message', (m: { kind: string }) => {
  if (m.kind !== 'stop') return;
  const t0 = performance.now();
  void fleet.stop({ concurrency: 500, timeout: 5000 }).then(() => {
    send({ kind: 'stopped', seconds: (performance.now() - t0) / 1000 });
    setTimeout(() => process.exit(0), 50);
  });
});
// Sockets, endpoints and clients are made first: the timed part is registration only, so the load
// generator's own set-up cost does not cap the rate measured.
const t0 = performance.now();
await fleet.prepare();
// a full collection now (with --expose-gc) leaves the building's garbage out of the timed part
(globalThis as { gc?: () => void }).gc?.();
send({ kind: 'prepared', seconds: (performance.now() - t0) / 1000, rss: process.memoryUsage().rss });
if (config.waitForGo)
  await new Promise<void>((resolve) =>
    process.on('message', (m: { kind: string }) => {
      if (m.kind === 'go') resolve();
    }),
  );
const progress = setInterval(() => send(snapshot('progress')), 1000);
const deadline = setTimeout(() => {
  clearInterval(progress);
  send(snapshot('complete'));
}, config.timeout * 1000);
void fleet.whenComplete().then(() => {
  clearInterval(progress);
  clearTimeout(deadline);
  send(snapshot('complete'));
});
fleet.start();

/**
 * Issue #8 reliability, end to end: `lwm2m server --store sqlite:PATH` with a UDP fleet of 20 devices
 * registered, the server command stopped and started again on the same file (and the same CoAP port)
 * in the middle of the fleet's life: `GET /api/clients` still lists every device, and a Read of each
 * device's /3/0/0 through the REST API reaches the device at the address its registration came from
 * (LwM2M TS Core 1.1 §6.2: the registration, not the connection, is the server's state).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Fleet } from '@thimble/lwm2m';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createUdpFleet } from '../../src/node/index.js';
import { capture, waitFor } from '../cli/io.js';

const COUNT = 20;

async function serverCommand(argv: string[]) {
  const c = capture();
  const stop = new AbortController();
  const exit = main(['server', '--http-port', '0', '--coap-host', '127.0.0.1', ...argv], c.io, stop.signal);
  const m = await waitFor(() => /udp \S+:(\d+), REST API on (http:\/\/\S+)\/api/.exec(c.out()) ?? undefined);
  return { c, stop, exit, coapPort: Number(m[1]), api: m[2]! };
}

describe('lwm2m server --store sqlite:PATH restarted under a fleet of 20 devices (issue #8 reliability)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'thimble-e2e-sqlite-'));
  const db = join(dir, 'server.db');
  let fleet: Fleet;
  let names: string[];
  let registrationIds: Map<string, string>;
  let second: Awaited<ReturnType<typeof serverCommand>> | undefined;

  beforeAll(async () => {
    const first = await serverCommand(['--coap-port', '0', '--store', `sqlite:${db}`]);
    fleet = createUdpFleet({
      count: COUNT,
      serverUri: `coap://127.0.0.1:${first.coapPort}`,
      prefix: `sqlite-fleet-${process.pid}`,
      lifetime: 600,
      rate: 1000,
      temperatureInterval: 0,
    });
    names = Array.from({ length: COUNT }, (_, i) => fleet.name(i));
    fleet.start();
    await fleet.whenComplete();
    expect(fleet.stats()).toMatchObject({ registered: COUNT, failed: 0 });
    const before = (await (await fetch(`${first.api}/api/clients`)).json()) as {
      endpoint: string;
      id: string;
    }[];
    expect(before.map((r) => r.endpoint).sort()).toEqual([...names].sort());
    registrationIds = new Map(before.map((r) => [r.endpoint, r.id]));
    first.stop.abort();
    expect(await first.exit).toBe(0);
    // the same file, the same CoAP port: the devices keep their sockets and know nothing of the restart
    second = await serverCommand(['--coap-port', String(first.coapPort), '--store', `sqlite:${db}`]);
  }, 30_000);

  afterAll(async () => {
    await fleet?.stop();
    if (second !== undefined) {
      second.stop.abort();
      expect(await second.exit).toBe(0);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('GET /api/clients lists all 20 registrations, with the same registration ids', async () => {
    const after = (await (await fetch(`${second!.api}/api/clients`)).json()) as {
      endpoint: string;
      id: string;
    }[];
    expect(after).toHaveLength(COUNT);
    for (const r of after) expect(r.id, r.endpoint).toBe(registrationIds.get(r.endpoint));
  });

  it("a Read of every device's /3/0/0 through the REST API works", async () => {
    const reads = await Promise.all(
      names.map(async (ep) => {
        const res = await fetch(`${second!.api}/api/clients/${ep}/3/0/0?timeout=10`);
        return { ep, status: res.status, body: (await res.json()) as { value?: unknown } };
      }),
    );
    for (const r of reads) {
      expect(r.status, r.ep).toBe(200);
      expect(r.body, r.ep).toMatchObject({ kind: 'resource', id: 0, type: 'String', value: 'Thimble' });
    }
  }, 20_000);
});

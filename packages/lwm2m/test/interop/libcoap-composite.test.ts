/**
 * Observe-Composite on our client with a real peer: libcoap's coap-client observes with FETCH / and a
 * SenML JSON path list (RFC 8132 §2.4, LwM2M TS Transport 1.1 §6.4), gets every path in each
 * notification, and cancels with FETCH Observe=1 and the same list when its subscription ends.
 */
import { spawn } from 'node:child_process';
import { requirePeers } from '@thimble/test-support/peers';
import { describe, expect, it } from 'vitest';
import { createUdpEndpoint } from '../../../coap-core/src/node.js';
import { Lwm2mClient } from '../../src/index.js';

const available = requirePeers(
  'libcoap Observe-Composite',
  ['coap-client-notls'],
  'apt-get install libcoap3-bin',
);

describe.skipIf(!available)('libcoap coap-client observes our client with FETCH (Observe-Composite)', () => {
  it('notifications carry every path; the end of the subscription cancels the observation', async () => {
    const endpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    const client = new Lwm2mClient({ endpointName: 'composite', endpoint, serverUri: 'coap://127.0.0.1:9' });
    client.addInstance(3, 0, { 0: 'Thimble', 11: [0], 16: 'U' });
    client.addInstance(3303, 0, { 5700: 21.5, 5701: 'Cel' });
    const operations: string[] = [];
    client.on('operation', (o) => operations.push(`${o.operation} ${o.code}`));
    try {
      const peer = spawn('coap-client-notls', [
        '-m',
        'fetch',
        '-s',
        '3',
        '-t',
        '110',
        '-A',
        '110',
        '-w',
        '-e',
        '[{"n":"/3303/0/5700"},{"n":"/3/0/0"}]',
        `coap://127.0.0.1:${endpoint.local.port}/`,
      ]);
      let output = '';
      peer.stdout.on('data', (d: Buffer) => {
        output += d.toString();
      });
      peer.stderr.on('data', (d: Buffer) => {
        output += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => peer.on('exit', resolve));
      // wait for the registration, then change the value twice
      for (let i = 0; i < 100 && endpoint.observerTotal('') === 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(endpoint.observerTotal('')).toBe(1);
      client.set('/3303/0/5700', 22);
      await new Promise((r) => setTimeout(r, 300));
      client.set('/3303/0/5700', 23.5);
      expect(await exited).toBe(0);
      const payloads = output
        .split('\n')
        .filter((l) => l.startsWith('['))
        .map((l) => JSON.parse(l) as { bn?: string; n?: string; v?: number; vs?: string }[]);
      expect(payloads.map((p) => p.map((r) => r.v ?? r.vs))).toEqual([
        [21.5, 'Thimble'],
        [22, 'Thimble'],
        [23.5, 'Thimble'],
      ]);
      expect(operations).toEqual([
        'Observe-Composite 2.05',
        'Notify 2.05',
        'Notify 2.05',
        'Cancel Observe-Composite 2.05',
      ]);
      expect(endpoint.observerTotal('')).toBe(0);
    } finally {
      await client.stop().catch(() => undefined);
      await endpoint.close();
    }
  }, 20_000);
});

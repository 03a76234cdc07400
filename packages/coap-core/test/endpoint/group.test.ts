import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureIo, freeUdpPort } from '@thimble/test-support/peers';
import { describe, expect, it } from 'vitest';
import { runCli, startFileServer } from '../../../coap-cli/src/main.js';
import {
  ALL_COAP_NODES,
  CoapEndpoint,
  Code,
  encodeMessage,
  FakeClock,
  MemoryNetwork,
  MessageType,
  OptionNumber,
  seededRandom,
} from '../../src/index.js';
import { drive } from './harness.js';

describe('group communication (RFC 7252 §8)', () => {
  it('a NON group request collects the responses of every member; errors are suppressed; Leisure delays them', async () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({ clock, seed: 5 });
    const members = [1, 2, 3].map((i) => {
      const t = network.bind(`10.0.0.${i}`, 5683);
      t.joinGroup(ALL_COAP_NODES.ipv4);
      const e = new CoapEndpoint({
        transport: t,
        clock,
        random: seededRandom(i),
        parameters: { defaultLeisure: 1000 },
      });
      if (i !== 3) e.route('GET', '/temp', () => ({ code: Code.Content, payload: `t${i}` }));
      return e;
    });
    const client = new CoapEndpoint({
      transport: network.bind('10.0.0.9', 0),
      clock,
      random: seededRandom(9),
    });
    const started = clock.now();
    const responses = await drive(
      clock,
      client.groupRequest({ uri: `coap://${ALL_COAP_NODES.ipv4}/temp`, window: 2000 }),
    );
    expect(responses.map((r) => r.text()).sort()).toEqual(['t1', 't2']);
    expect(responses.every((r) => r.message.type === MessageType.NON)).toBe(true);
    expect(clock.now() - started).toBeGreaterThanOrEqual(2000);
    expect(members.length).toBe(3);
  });

  it('ignores Confirmable requests sent to a group and never answers with RST (§8.1)', async () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({ clock, seed: 6 });
    const t = network.bind('10.0.0.1', 5683);
    t.joinGroup(ALL_COAP_NODES.ipv4);
    let calls = 0;
    new CoapEndpoint({ transport: t, clock, random: seededRandom(1) }).route('GET', '/x', () => {
      calls++;
      return { code: Code.Content };
    });
    const raw = network.bind('10.0.0.9', 9000);
    const got: Uint8Array[] = [];
    raw.onDatagram((d) => got.push(d));
    const to = { address: ALL_COAP_NODES.ipv4, port: 5683 };
    raw.send(
      encodeMessage({
        type: MessageType.CON,
        code: Code.GET,
        messageId: 1,
        options: [{ number: OptionNumber.UriPath, value: 'x' }],
      }),
      to,
    );
    raw.send(Uint8Array.of(0x40, 0, 0, 2), to); // ping
    raw.send(Uint8Array.of(0x40, 1, 0, 3, 0xff), to); // malformed CON
    await clock.advance(10_000);
    expect(calls).toBe(0);
    expect(got).toEqual([]);
  });

  it('coap get --group discovers two coap serve instances over loopback multicast', async () => {
    const port = await freeUdpPort();
    const dirs = [0, 1].map((i) => {
      const d = mkdtempSync(join(tmpdir(), `thimble-group-${i}-`));
      writeFileSync(join(d, `file${i}.txt`), 'x');
      return d;
    });
    const servers = [];
    for (const d of dirs) {
      servers.push(
        await startFileServer(d, '127.0.0.1', port, {
          group: '224.0.1.187',
          multicastInterface: '127.0.0.1',
          leisure: 200,
        }),
      );
    }
    try {
      const c = captureIo();
      const code = await runCli(
        [
          'get',
          '--group',
          `coap://224.0.1.187:${port}/.well-known/core`,
          '--interface',
          '127.0.0.1',
          '--duration',
          '1',
        ],
        c.io,
      );
      expect(code).toBe(0);
      expect(c.stdout()).toContain('</file0.txt>');
      expect(c.stdout()).toContain('</file1.txt>');
    } finally {
      for (const s of servers) await s.close();
    }
  });
});

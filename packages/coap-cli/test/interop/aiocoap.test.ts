/**
 * Interop with aiocoap 0.4.17's plain (non-OSCORE) client against our `coap serve` with the amplification
 * limit on (the default). aiocoap's plain client does not answer an Echo challenge, so a large answer to
 * a GET is cut to Block2 blocks within 3× each request (RFC 9175 §2.4, RFC 7959 §2.4), which aiocoap
 * follows to the whole body.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLinkFormat } from '@thimble/coap-core';
import { AIOCOAP, freeUdpPort, requireAiocoap, runPeer } from '@thimble/test-support/peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startFileServer } from '../../src/main.js';

const available = requireAiocoap('aiocoap plain client interop');

const LARGE = Array.from({ length: 300 }, (_, i) => `${i}`.padStart(10, '.')).join('');

describe.skipIf(!available)(
  'aiocoap-client (plain CoAP) against our coap serve, amplification limit on',
  {
    timeout: 30_000,
  },
  () => {
    let server: RunningServer;
    let base = '';
    beforeAll(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'thimble-aiocoap-'));
      writeFileSync(join(dir, 'large.txt'), LARGE);
      for (let i = 0; i < 40; i++) writeFileSync(join(dir, `file-${i}.txt`), `${i}`);
      const port = await freeUdpPort();
      server = await startFileServer(dir, '127.0.0.1', port, {});
      base = `coap://127.0.0.1:${port}`;
    });
    afterAll(() => server?.close());

    it('GETs a 3,000-byte file whole: blocks cut within 3×, no challenge (RFC 9175 §2.4, RFC 7959 §2.4)', async () => {
      const before = server.endpoint.amplificationCuts;
      const r = await runPeer(AIOCOAP.client, [`${base}/large.txt`]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(LARGE);
      expect(server.endpoint.amplificationCuts).toBeGreaterThan(before);
      expect(server.endpoint.amplificationChallenges).toBe(0);
    });

    it('GETs /.well-known/core whole (RFC 6690), cut to blocks the same way', async () => {
      const before = server.endpoint.amplificationCuts;
      const r = await runPeer(AIOCOAP.client, [`${base}/.well-known/core`]);
      expect(r.code).toBe(0);
      const targets = parseLinkFormat(r.stdout.trim()).map((l) => l.target);
      expect(targets).toContain('/large.txt');
      for (let i = 0; i < 40; i++) expect(targets).toContain(`/file-${i}.txt`);
      expect(server.endpoint.amplificationCuts).toBeGreaterThan(before);
      expect(server.endpoint.amplificationChallenges).toBe(0);
    });

    it('--observe of the large file: the whole body, then "not observable" (a cut registration drops Observe, RFC 7641 §3.2)', async () => {
      const r = await runPeer(AIOCOAP.client, ['--observe', `${base}/large.txt`]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(LARGE);
      expect(r.stderr).toContain('NotObservable');
      expect(server.endpoint.observerTotal()).toBe(0);
    });
  },
);

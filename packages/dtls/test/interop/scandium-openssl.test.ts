/**
 * Proves the Scandium interop peer (packages/dtls/test/interop/scandium, launched through
 * packages/dtls/test/interop/scandium-peer.ts) against an independent DTLS 1.2 implementation, OpenSSL's
 * command-line tools (and its CoAP server mode against libcoap's coap-client), before our own DTLS stack
 * (packages/dtls) uses it. Lives here until packages/dtls has
 * its own vitest project; it tests no coap-core code.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeUdpPort, runPeer } from '@thimble/test-support/peers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  requireScandium,
  runScandiumClient,
  runScandiumCoapClient,
  type ScandiumEvent,
  startScandiumServer,
} from './scandium-peer.js';

const ready = requireScandium('scandium-openssl', ['openssl', 'coap-client-openssl']);

const PSK_IDENTITY = 'Client_identity';
const PSK_HEX = '73656372657450534b'; // "secretPSK"

type Session = Extract<ScandiumEvent, { kind: 'session' }>;
const isSession = (e: ScandiumEvent): e is Session => e.kind === 'session';
const isAddress = (e: ScandiumEvent): e is Extract<ScandiumEvent, { kind: 'address' }> =>
  e.kind === 'address';
const isFailure = (e: ScandiumEvent): e is Extract<ScandiumEvent, { kind: 'error' | 'alert' }> =>
  e.kind === 'error' || e.kind === 'alert';

/** An openssl s_client / s_server process with stdin for sending and its output collected. */
function startOpenssl(args: readonly string[]): {
  process: ChildProcess;
  output: () => string;
  waitForOutput: (text: string, timeoutMs?: number) => Promise<void>;
  closed: Promise<number | null>;
} {
  const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const listeners: Array<() => void> = [];
  const onData = (d: Buffer) => {
    output += d.toString('latin1');
    for (const l of [...listeners]) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    process: child,
    output: () => output,
    closed,
    waitForOutput: (text, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        if (output.includes(text)) return resolve();
        const timer = setTimeout(() => {
          listeners.splice(listeners.indexOf(check), 1);
          reject(new Error(`openssl ${args[0]}: no "${text}" within ${timeoutMs} ms\n${output}`));
        }, timeoutMs);
        const check = () => {
          if (!output.includes(text)) return;
          clearTimeout(timer);
          listeners.splice(listeners.indexOf(check), 1);
          resolve();
        };
        listeners.push(check);
      }),
  };
}

const opensslChildren: ChildProcess[] = [];
afterAll(() => {
  for (const c of opensslChildren) c.kill('SIGKILL');
});

describe.skipIf(!ready)('Scandium peer against OpenSSL (DTLS 1.2, RFC 6347)', () => {
  let dir = '';
  beforeAll(() => {
    // A P-256 key and self-signed certificate made now, for the ECDHE-ECDSA runs (RFC 7251).
    dir = mkdtempSync(join(tmpdir(), 'thimble-scandium-'));
    execFileSync('openssl', [
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      join(dir, 'server.key'),
    ]);
    execFileSync('openssl', [
      'req',
      '-new',
      '-x509',
      '-key',
      join(dir, 'server.key'),
      '-out',
      join(dir, 'server.crt'),
      '-days',
      '2',
      '-subj',
      '/CN=thimble scandium test',
    ]);
    execFileSync('openssl', [
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      join(dir, 'other.key'),
    ]);
    execFileSync('openssl', [
      'req',
      '-new',
      '-x509',
      '-key',
      join(dir, 'other.key'),
      '-out',
      join(dir, 'other.crt'),
      '-days',
      '2',
      '-subj',
      '/CN=someone else',
    ]);
    for (const name of ['client-a', 'client-b']) {
      execFileSync('openssl', [
        'genpkey',
        '-algorithm',
        'EC',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-out',
        join(dir, `${name}.key`),
      ]);
      execFileSync('openssl', [
        'pkey',
        '-in',
        join(dir, `${name}.key`),
        '-pubout',
        '-out',
        join(dir, `${name}.pub`),
      ]);
    }
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('server, PSK (RFC 4279): openssl s_client with TLS_PSK_WITH_AES_128_CCM_8 gets its datagram echoed', async () => {
    const server = await startScandiumServer({ psk: [{ identity: PSK_IDENTITY, keyHex: PSK_HEX }] });
    try {
      const client = startOpenssl([
        's_client',
        '-dtls1_2',
        '-psk',
        PSK_HEX,
        '-psk_identity',
        PSK_IDENTITY,
        '-cipher',
        'PSK-AES128-CCM8',
        '-connect',
        `127.0.0.1:${server.port}`,
        '-quiet',
      ]);
      opensslChildren.push(client.process);
      const session = await server.waitFor(isSession);
      expect(session).toMatchObject({
        identity: `psk:${PSK_IDENTITY}`,
        cipherSuite: 'TLS_PSK_WITH_AES_128_CCM_8',
        cid: null,
        peerCid: null,
      });
      client.process.stdin?.write('echo-me-42\n');
      // s_client prints what it receives; the typed line itself is not echoed locally with -quiet.
      await client.waitForOutput('echo-me-42');
      client.process.kill('SIGKILL');
    } finally {
      await server.close();
    }
  }, 60_000);

  it('server, PSK: a wrong key fails the handshake and the server reports it', async () => {
    const server = await startScandiumServer({ psk: [{ identity: PSK_IDENTITY, keyHex: PSK_HEX }] });
    try {
      const client = startOpenssl([
        's_client',
        '-dtls1_2',
        '-psk',
        '00112233',
        '-psk_identity',
        PSK_IDENTITY,
        '-cipher',
        'PSK-AES128-CCM8',
        '-connect',
        `127.0.0.1:${server.port}`,
      ]);
      opensslChildren.push(client.process);
      client.process.stdin?.end();
      const failure = await server.waitFor(isFailure, 20_000);
      expect(failure.kind === 'alert' ? failure.description : failure.reason).toMatch(/\S/);
      expect(server.events.some(isSession)).toBe(false);
      client.process.kill('SIGKILL');
    } finally {
      await server.close();
    }
  }, 60_000);

  it('client, PSK: handshakes with openssl s_server and prints what s_server sends back', async () => {
    const port = await freeUdpPort();
    const server = startOpenssl([
      's_server',
      '-dtls1_2',
      '-psk',
      PSK_HEX,
      '-psk_identity',
      PSK_IDENTITY,
      '-cipher',
      'PSK-AES128-CCM8',
      '-nocert',
      '-accept',
      String(port),
      '-naccept',
      '1',
    ]);
    opensslChildren.push(server.process);
    await server.waitForOutput('ACCEPT');
    // s_server does not echo over DTLS (-rev is TLS only): answer each datagram through its stdin.
    const answered = server.waitForOutput('ping-from-scandium', 30_000).then(() => {
      server.process.stdin?.write('pong-from-openssl\n');
    });
    const run = await runScandiumClient({
      port,
      psk: [{ identity: PSK_IDENTITY, keyHex: PSK_HEX }],
      send: 'ping-from-scandium',
    });
    await answered;
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.events.find(isSession)).toMatchObject({
      identity: `psk:${PSK_IDENTITY}`,
      cipherSuite: 'TLS_PSK_WITH_AES_128_CCM_8',
    });
    expect(run.events.filter((e) => e.kind === 'recv')).toEqual([
      { kind: 'recv', text: 'pong-from-openssl\n' },
    ]);
    server.process.kill('SIGKILL');
  }, 60_000);

  it('server, ECDHE-ECDSA with an X.509 certificate (RFC 7251): openssl s_client verifies it and gets its echo', async () => {
    const server = await startScandiumServer({
      ecdsaKey: join(dir, 'server.key'),
      ecdsaCertOrRpk: join(dir, 'server.crt'),
    });
    try {
      const client = startOpenssl([
        's_client',
        '-dtls1_2',
        '-cipher',
        'ECDHE-ECDSA-AES128-CCM8',
        '-CAfile',
        join(dir, 'server.crt'),
        '-verify_return_error',
        '-connect',
        `127.0.0.1:${server.port}`,
        '-quiet',
      ]);
      opensslChildren.push(client.process);
      const session = await server.waitFor(isSession);
      expect(session).toMatchObject({ identity: 'none', cipherSuite: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8' });
      client.process.stdin?.write('ecdsa-echo\n');
      await client.waitForOutput('ecdsa-echo');
      expect(client.output()).toContain('verify return:1');
      client.process.kill('SIGKILL');
    } finally {
      await server.close();
    }
  }, 60_000);

  it("client, ECDHE-ECDSA (RFC 7251): verifies openssl s_server's certificate with --trust-ca and gets its answer", async () => {
    const port = await freeUdpPort();
    const server = startOpenssl([
      's_server',
      '-dtls1_2',
      '-cert',
      join(dir, 'server.crt'),
      '-key',
      join(dir, 'server.key'),
      '-cipher',
      'ECDHE-ECDSA-AES128-CCM8',
      '-accept',
      String(port),
      '-naccept',
      '1',
    ]);
    opensslChildren.push(server.process);
    await server.waitForOutput('ACCEPT');
    const answered = server.waitForOutput('ecdsa-from-scandium', 30_000).then(() => {
      server.process.stdin?.write('ecdsa-from-openssl\n');
    });
    const run = await runScandiumClient({
      port,
      trustCa: [join(dir, 'server.crt')],
      send: 'ecdsa-from-scandium',
    });
    await answered;
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.events.find(isSession)).toMatchObject({
      identity: 'x509:CN=thimble%20scandium%20test',
      cipherSuite: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8',
    });
    expect(run.events.filter((e) => e.kind === 'recv')).toEqual([
      { kind: 'recv', text: 'ecdsa-from-openssl\n' },
    ]);
    server.process.kill('SIGKILL');
  }, 60_000);

  it('client, ECDHE-ECDSA: a server certificate it does not trust fails the handshake with an ERROR line', async () => {
    const port = await freeUdpPort();
    const server = startOpenssl([
      's_server',
      '-dtls1_2',
      '-cert',
      join(dir, 'server.crt'),
      '-key',
      join(dir, 'server.key'),
      '-cipher',
      'ECDHE-ECDSA-AES128-CCM8',
      '-accept',
      String(port),
      '-naccept',
      '1',
    ]);
    opensslChildren.push(server.process);
    await server.waitForOutput('ACCEPT');
    const run = await runScandiumClient({
      port,
      trustCa: [join(dir, 'other.crt')],
      send: 'not-sent',
      answerTimeoutMs: 5_000,
    });
    expect(run.code).not.toBe(0);
    expect(run.events.some(isSession)).toBe(false);
    expect(run.events.some((e) => e.kind === 'error')).toBe(true);
    expect(server.output()).not.toContain('not-sent');
    server.process.kill('SIGKILL');
  }, 60_000);

  it('Scandium to Scandium, RPK (RFC 7250) with Connection ID (RFC 9146): the client moves to a new port mid-session and the echoes keep coming', async () => {
    const clientPub = readFileSync(join(dir, 'client-a.pub'), 'utf8');
    const server = await startScandiumServer({
      ecdsaKey: join(dir, 'server.key'),
      ecdsaCertOrRpk: join(dir, 'server.crt'),
      trustRpk: [join(dir, 'client-a.pub')],
      cid: 6,
    });
    try {
      const run = await runScandiumClient({
        port: server.port,
        ecdsaKey: join(dir, 'client-a.key'),
        ecdsaCertOrRpk: join(dir, 'client-a.pub'),
        trustCa: [join(dir, 'server.crt')],
        cid: 0,
        send: 'moving',
        count: 4,
        rebindAfter: 2,
      });
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.events.map((e) => e.kind)).toEqual(['session', 'recv', 'recv', 'rebound', 'recv', 'recv']);
      const serverSession = await server.waitFor(isSession);
      // The server's SESSION line names the client by its raw public key (SubjectPublicKeyInfo DER).
      const spki = Buffer.from(clientPub.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('hex');
      expect(serverSession.identity).toBe(`rpk:${spki}`);
      expect(serverSession.cid).toMatch(/^[0-9a-f]{12}$/);
      expect(run.events.find(isSession)?.peerCid).toBe(serverSession.cid);
      const moved = await server.waitFor(isAddress);
      const rebound = run.events.find((e) => e.kind === 'rebound');
      expect(moved.from).toBe(serverSession.peer);
      expect(moved.to).toBe(`127.0.0.1:${rebound?.kind === 'rebound' ? rebound.port : -1}`);
      // No second handshake: one session on the server for the whole run.
      expect(server.events.filter(isSession)).toHaveLength(1);
    } finally {
      await server.close();
    }
  }, 90_000);

  it('Scandium to Scandium, RPK: a client key the server does not trust is refused', async () => {
    const server = await startScandiumServer({
      ecdsaKey: join(dir, 'server.key'),
      ecdsaCertOrRpk: join(dir, 'server.crt'),
      trustRpk: [join(dir, 'client-a.pub')],
    });
    try {
      const run = await runScandiumClient({
        port: server.port,
        ecdsaKey: join(dir, 'client-b.key'),
        ecdsaCertOrRpk: join(dir, 'client-b.pub'),
        trustCa: [join(dir, 'server.crt')],
        send: 'not-trusted',
        answerTimeoutMs: 5_000,
      });
      expect(run.code).not.toBe(0);
      expect(run.events.some((e) => e.kind === 'recv')).toBe(false);
      expect(run.events.some((e) => e.kind === 'error')).toBe(true);
      await server.waitFor(isFailure);
    } finally {
      await server.close();
    }
  }, 60_000);

  it('CoAP over DTLS (RFC 7252 §9): the coap-client mode gets 2.05 from the coap-server mode, in the one suite it offers', async () => {
    const psk = [{ identity: 'coap-id', keyHex: '000102030405060708090a0b0c0d0e0f' }];
    const server = await startScandiumServer({
      mode: 'coap-server',
      psk,
      cid: 4,
      // the two PSK suites LwM2M names; CBC is accepted only because it is named here
      suites: ['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_PSK_WITH_AES_128_CBC_SHA256'],
    });
    try {
      const run = await runScandiumCoapClient({
        uri: `coaps://127.0.0.1:${server.port}/hello`,
        psk,
        cid: 0,
        suites: ['TLS_PSK_WITH_AES_128_CBC_SHA256'],
      });
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.events.find((e) => e.kind === 'response')).toEqual({
        kind: 'response',
        code: '2.05',
        payload: 'Hello from Scandium',
      });
      const session = await server.waitFor(isSession);
      expect(session.cid).toMatch(/^[0-9a-f]{8}$/);
      // the client offered only this suite (--suites)
      expect(session.cipherSuite).toBe('TLS_PSK_WITH_AES_128_CBC_SHA256');
    } finally {
      await server.close();
    }
  }, 60_000);
  it('coap-server mode, PSK: libcoap coap-client-openssl GETs coaps:///hello', async () => {
    // libcoap's -k takes the key as text: "secretPSK" is PSK_HEX
    const server = await startScandiumServer({
      mode: 'coap-server',
      psk: [{ identity: 'libcoap', keyHex: PSK_HEX }],
    });
    try {
      const run = await runPeer('coap-client-openssl', [
        '-k',
        'secretPSK',
        '-u',
        'libcoap',
        '-m',
        'get',
        `coaps://127.0.0.1:${server.port}/hello`,
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout.trim()).toBe('Hello from Scandium');
      expect((await server.waitFor(isSession)).identity).toBe('psk:libcoap');
    } finally {
      await server.close();
    }
  }, 60_000);
});

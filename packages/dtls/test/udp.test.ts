/** Our client and server over real UDP on loopback: data, CID across a local port change, failures, no leaks. */
import { afterEach, describe, expect, it } from 'vitest';
import { utf8 } from '../src/bytes.js';
import { DtlsError } from '../src/errors.js';
import { connect, DtlsServer } from '../src/node.js';

const KEY = utf8('udp-test-key-123');
const lookup = (id: string) => (id === 'dev' ? KEY : undefined);

describe('DtlsServer + connect() over UDP', () => {
  let server: DtlsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('echoes data and keeps the session across a client port change (RFC 9146 §6)', async () => {
    server = await DtlsServer.listen({ address: '127.0.0.1', pskLookup: lookup });
    const seen: { port: number; identity: unknown }[] = [];
    server.onData((d, peer) => {
      seen.push({ port: peer.port, identity: peer.identity });
      server!.send(peer, d);
    });
    const client = await connect({
      host: '127.0.0.1',
      port: server.local.port,
      psk: { identity: 'dev', key: KEY },
    });
    const next = () =>
      new Promise<string>((resolve) => client.onData((d) => resolve(new TextDecoder().decode(d))));
    let reply = next();
    client.send(utf8('one'));
    expect(await reply).toBe('one');
    const firstPort = client.local.port;
    await client.rebind();
    expect(client.local.port).not.toBe(firstPort);
    reply = next();
    client.send(utf8('two'));
    expect(await reply).toBe('two');
    expect(seen.map((s) => s.port)).toEqual([firstPort, client.local.port]);
    expect(seen[1]!.identity).toEqual({ kind: 'psk', identity: 'dev' });
    expect(server.stats.migrations).toBe(1);
    await client.close();
  });

  it('a wrong key rejects with bad-psk well within the timeout', async () => {
    server = await DtlsServer.listen({ address: '127.0.0.1', pskLookup: lookup });
    const error = await connect({
      host: '127.0.0.1',
      port: server.local.port,
      psk: { identity: 'dev', key: utf8('nope') },
      timeoutMs: 5000,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DtlsError);
    expect((error as DtlsError).reason).toBe('bad-psk');
  });

  it('an unknown identity rejects with unknown-identity', async () => {
    server = await DtlsServer.listen({ address: '127.0.0.1', pskLookup: lookup });
    const error = await connect({
      host: '127.0.0.1',
      port: server.local.port,
      psk: { identity: 'who', key: KEY },
    }).catch((e: unknown) => e);
    expect((error as DtlsError).reason).toBe('unknown-identity');
  });

  it("a silent server gives handshake-timeout after the caller's timeout; an AbortSignal gives aborted", async () => {
    server = await DtlsServer.listen({ address: '127.0.0.1', pskLookup: lookup });
    const silent = server.local.port;
    await server.close();
    server = undefined;
    const timedOut = await connect({
      host: '127.0.0.1',
      port: silent,
      psk: { identity: 'dev', key: KEY },
      timeoutMs: 300,
    }).catch((e: unknown) => e);
    expect((timedOut as DtlsError).reason).toBe('handshake-timeout');
    const controller = new AbortController();
    const pending = connect({
      host: '127.0.0.1',
      port: silent,
      psk: { identity: 'dev', key: KEY },
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 50);
    expect(((await pending.catch((e: unknown) => e)) as DtlsError).reason).toBe('aborted');
  });

  it('server close sends close_notify: the client sees reason closed', async () => {
    server = await DtlsServer.listen({ address: '127.0.0.1', pskLookup: lookup });
    const client = await connect({
      host: '127.0.0.1',
      port: server.local.port,
      psk: { identity: 'dev', key: KEY },
    });
    const closed = new Promise<DtlsError>((resolve) => client.onClose(resolve));
    await server.close();
    server = undefined;
    expect((await closed).reason).toBe('closed');
    expect(client.closed).toBe(true);
  });

  it('resumes a session with an abbreviated handshake (RFC 5246 §7.3)', async () => {
    server = await DtlsServer.listen({ address: '127.0.0.1', pskLookup: lookup });
    server.onData((d, peer) => server!.send(peer, d));
    const first = await connect({
      host: '127.0.0.1',
      port: server.local.port,
      psk: { identity: 'dev', key: KEY },
    });
    const session = first.session;
    expect(session).toBeDefined();
    await first.close();
    const second = await connect({
      host: '127.0.0.1',
      port: server.local.port,
      psk: { identity: 'dev', key: KEY },
      resume: session!,
    });
    expect(second.connection.wasResumed).toBe(true);
    const reply = new Promise<string>((resolve) =>
      second.onData((d) => resolve(new TextDecoder().decode(d))),
    );
    second.send(utf8('resumed'));
    expect(await reply).toBe('resumed');
    await second.close();
  });
});

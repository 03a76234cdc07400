import { describe, expect, it } from 'vitest';
import { utf8 } from '../src/bytes.js';
import { HandshakeType, parseHandshakeFragments } from '../src/handshake.js';
import { parseRecords } from '../src/record.js';
import { CipherSuites } from '../src/suites.js';
import { Pipe, PSK } from './helpers.js';

function handshakeTypes(datagram: Uint8Array): number[] {
  const out: number[] = [];
  for (const r of parseRecords(datagram, 0)) {
    if (r.type === 22 && r.epoch === 0)
      for (const f of parseHandshakeFragments(r.fragment)) out.push(f.msgType);
    else out.push(-r.type);
  }
  return out;
}

describe('PSK handshake over an in-memory network (RFC 6347 §4.2, RFC 4279)', () => {
  it('completes with a HelloVerifyRequest cookie exchange, EMS, and carries data both ways', () => {
    const pipe = new Pipe();
    const client = pipe.connect();
    expect(pipe.clientConnected).toBe(true);
    expect(client.cipherSuite?.name).toBe('TLS_PSK_WITH_AES_128_CCM_8');
    expect(client.extendedMasterSecret).toBe(true);
    expect(pipe.sessions).toHaveLength(1);
    expect(pipe.sessions[0]!.identity).toEqual({ kind: 'psk', identity: 'device-1' });
    // flights: CH, HVR, CH+cookie, SH..SHD, CKE+CCS+Finished, CCS+Finished (RFC 6347 §4.2.4 figure 1)
    expect(handshakeTypes(pipe.log[0]!.data)).toEqual([HandshakeType.clientHello]);
    expect(handshakeTypes(pipe.log[1]!.data)).toEqual([HandshakeType.helloVerifyRequest]);
    expect(handshakeTypes(pipe.log[2]!.data)).toEqual([HandshakeType.clientHello]);
    expect(handshakeTypes(pipe.log[3]!.data)).toEqual([
      HandshakeType.serverHello,
      HandshakeType.serverHelloDone,
    ]);
    expect(pipe.server.stats.helloVerifyRequests).toBe(1);
    client.send(utf8('ping'));
    pipe.deliver();
    expect(new TextDecoder().decode(pipe.serverData[0])).toBe('ping');
    pipe.sessions[0]!.send(utf8('pong'));
    pipe.deliver();
    expect(new TextDecoder().decode(pipe.clientData[0])).toBe('pong');
  });

  it('uses a CID on the server by default: client records carry it (RFC 9146 §3)', () => {
    const pipe = new Pipe();
    const client = pipe.connect();
    expect(client.sendsConnectionId).toBe(true);
    client.send(utf8('x'));
    const last = pipe.log[pipe.log.length - 1]!.data;
    expect(last[0]).toBe(25);
  });

  it('keeps the session when the client address changes mid-session (RFC 9146 §6)', () => {
    const pipe = new Pipe();
    const client = pipe.connect();
    pipe.clientAddress = { address: '10.0.0.9', port: 51000 };
    client.send(utf8('from a new address'));
    pipe.deliver();
    expect(new TextDecoder().decode(pipe.serverData[0])).toBe('from a new address');
    expect(pipe.sessions[0]!.address).toBe('10.0.0.9');
    pipe.sessions[0]!.send(utf8('reply'));
    pipe.deliver();
    expect(new TextDecoder().decode(pipe.clientData[0])).toBe('reply');
    expect(pipe.server.stats.migrations).toBe(1);
  });

  it("a client may ask for a CID of its own: the server's records then carry it (RFC 9146 §3)", () => {
    const pipe = new Pipe();
    const client = pipe.connect({ connectionId: 4 });
    expect(client.connected).toBe(true);
    expect(client.connectionId?.length).toBe(4);
    pipe.sessions[0]!.send(utf8('to the client'));
    const last = pipe.log[pipe.log.length - 1]!.data;
    expect(last[0]).toBe(25);
    expect([...last.subarray(11, 15)]).toEqual([...client.connectionId!]);
    pipe.deliver();
    expect(new TextDecoder().decode(pipe.clientData[0])).toBe('to the client');
  });

  it('a client asking for a CID from a server without CIDs gets plain records', () => {
    const pipe = new Pipe({ connectionIdLength: 0 });
    const client = pipe.connect({ connectionId: 4 });
    expect(client.connectionId).toBeUndefined();
    pipe.sessions[0]!.send(utf8('plain'));
    pipe.deliver();
    expect(new TextDecoder().decode(pipe.clientData[0])).toBe('plain');
  });

  it('a forged CID record from another address does not move the session (RFC 9146 §6)', () => {
    const pipe = new Pipe();
    const client = pipe.connect();
    client.send(utf8('genuine'));
    const record = pipe.log[pipe.log.length - 1]!.data.slice();
    pipe.deliver();
    record[record.length - 1]! ^= 1; // breaks the tag
    pipe.server.receive(record, '203.0.113.5', 666);
    expect(pipe.sessions[0]!.address).toBe('10.0.0.2');
    expect(pipe.server.stats.migrations).toBe(0);
    expect(pipe.serverData).toHaveLength(1);
  });

  it('without CID a new address is a new peer: data from it is dropped', () => {
    const pipe = new Pipe({ connectionIdLength: 0 });
    const client = pipe.connect();
    expect(client.sendsConnectionId).toBe(false);
    pipe.clientAddress = { address: '10.0.0.9', port: 51000 };
    client.send(utf8('lost'));
    pipe.deliver();
    expect(pipe.serverData).toHaveLength(0);
  });

  for (const suite of [
    CipherSuites.TLS_PSK_WITH_AES_128_GCM_SHA256,
    CipherSuites.TLS_PSK_WITH_AES_128_CBC_SHA256,
    CipherSuites.TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256,
  ]) {
    it(`negotiates ${suite.name} and carries data`, () => {
      const pipe = new Pipe();
      const client = pipe.connect({ cipherSuites: [suite] });
      expect(pipe.clientConnected).toBe(true);
      expect(client.cipherSuite).toBe(suite);
      client.send(utf8('data'));
      pipe.deliver();
      expect(new TextDecoder().decode(pipe.serverData[0])).toBe('data');
      pipe.sessions[0]!.send(utf8('back'));
      pipe.deliver();
      expect(new TextDecoder().decode(pipe.clientData[0])).toBe('back');
    });
  }

  it('passes the server identity hint to a PSK callback (RFC 4279 §5.2)', () => {
    const pipe = new Pipe({ pskIdentityHint: 'realm-7' });
    const hints: (string | undefined)[] = [];
    pipe.connect({
      psk: (hint) => {
        hints.push(hint);
        return PSK;
      },
    });
    expect(pipe.clientConnected).toBe(true);
    expect(hints).toEqual(['realm-7']);
  });

  it('works without EMS when the server is told nothing about it, and refuses when EMS is required', () => {
    const pipe = new Pipe({ requireExtendedMasterSecret: true });
    pipe.connect();
    expect(pipe.clientConnected).toBe(true);
  });
});

describe('PSK failures give typed errors (RFC 4279 §2, RFC 5246 §7.2)', () => {
  it('a wrong key: the client learns bad-psk from the decrypt_error alert, the server logs the reason', () => {
    const pipe = new Pipe();
    pipe.connect({ psk: { identity: PSK.identity, key: utf8('wrong-key-000000') } });
    expect(pipe.clientConnected).toBe(false);
    expect(pipe.clientError?.reason).toBe('bad-psk');
    expect(pipe.serverLog.some((l) => l.includes('bad-psk'))).toBe(true);
    expect(pipe.server.stats.handshakes).toBe(0);
    expect(pipe.server.stats.sessions).toBe(0);
  });

  it('an unknown identity: the client learns unknown-identity', () => {
    const pipe = new Pipe();
    pipe.connect({ psk: { identity: 'stranger', key: PSK.key } });
    expect(pipe.clientError?.reason).toBe('unknown-identity');
    expect(pipe.serverLog.some((l) => l.includes('unknown-identity') && l.includes('stranger'))).toBe(true);
  });

  it("no answer at all: handshake-timeout after the caller's timeout, and no timer left behind", () => {
    const pipe = new Pipe();
    pipe.filter = (d) => d.from === 'client' && false;
    pipe.connect({ handshakeTimeoutMs: 5000 });
    pipe.advance(4999);
    expect(pipe.clientError).toBeUndefined();
    pipe.advance(1);
    expect(pipe.clientError?.reason).toBe('handshake-timeout');
    pipe.server.close();
    expect(pipe.clock.pending).toBe(0);
  });
});

describe('retransmission (RFC 6347 §4.2.4) and fragmentation (§4.2.3)', () => {
  it('retransmits flights with a doubling timeout: 1 s, 2 s, 4 s', () => {
    const pipe = new Pipe();
    const sentAt: number[] = [];
    pipe.filter = (d) => {
      if (d.from === 'client') sentAt.push(pipe.clock.now());
      return false;
    };
    pipe.connect({ handshakeTimeoutMs: 60_000 });
    pipe.advance(7500);
    expect(sentAt).toEqual([0, 1000, 3000, 7000]);
  });

  it('recovers when every first copy of each datagram is lost', () => {
    const pipe = new Pipe();
    const seen = new Set<string>();
    pipe.filter = (d) => {
      // drop a datagram the first time its kind appears (keyed by direction, size and first content type)
      const key = `${d.from}:${d.data.length}:${d.data[0]}`;
      if (seen.has(key)) return true;
      seen.add(key);
      return false;
    };
    pipe.connect();
    pipe.advance(30_000);
    expect(pipe.clientConnected).toBe(true);
    expect(pipe.sessions).toHaveLength(1);
    expect(seen.size).toBeGreaterThanOrEqual(6);
  });

  it("recovers when the server's last flight is lost (the client repeats its Finished flight)", () => {
    const pipe = new Pipe();
    let dropped = false;
    pipe.filter = (d) => {
      if (!dropped && d.from === 'server' && d.data[0] === 20) {
        dropped = true;
        return false;
      }
      return true;
    };
    pipe.connect();
    expect(pipe.clientConnected).toBe(false);
    expect(pipe.sessions).toHaveLength(1);
    pipe.advance(1000);
    expect(pipe.clientConnected).toBe(true);
  });

  it('fragments handshake messages to a small MTU and reassembles them', () => {
    // 200 bytes still carries a ClientHello with its cookie whole (the server answers it statelessly).
    const pipe = new Pipe({ mtu: 200, pskIdentityHint: 'h'.repeat(700) });
    pipe.connect({ mtu: 200 });
    expect(pipe.clientConnected).toBe(true);
    expect(pipe.log.length).toBeGreaterThan(8);
    for (const d of pipe.log) expect(d.data.length).toBeLessThanOrEqual(200);
  });
});

describe('replay and renegotiation', () => {
  it('drops a replayed application record (RFC 6347 §4.1.2.6)', () => {
    const pipe = new Pipe();
    const client = pipe.connect();
    client.send(utf8('once'));
    const record = pipe.log[pipe.log.length - 1]!.data;
    pipe.deliver();
    pipe.server.receive(record, pipe.clientAddress.address, pipe.clientAddress.port);
    expect(pipe.serverData).toHaveLength(1);
  });

  it('a spoofed ClientHello flood creates no session state (RFC 6347 §4.2.1)', () => {
    const pipe = new Pipe();
    const client = pipe.connect();
    const hello = pipe.log[0]!.data;
    for (let i = 0; i < 2000; i++) pipe.server.receive(hello, `192.0.2.${i % 250}`, 1000 + i);
    expect(pipe.server.stats.handshakes).toBe(0);
    expect([...pipe.server.sessions()]).toHaveLength(1);
    expect(client.connected).toBe(true);
  });

  it('a replayed cookie ClientHello from another address gets a fresh HelloVerifyRequest, not a session', () => {
    const pipe = new Pipe();
    pipe.connect();
    const withCookie = pipe.log[2]!.data;
    const before = pipe.server.stats.helloVerifyRequests;
    pipe.server.receive(withCookie, '198.51.100.1', 5000);
    expect(pipe.server.stats.helloVerifyRequests).toBe(before + 1);
    expect(pipe.server.stats.handshakes).toBe(0);
  });

  it('close_notify ends both sides with reason closed', () => {
    const pipe = new Pipe();
    const client = pipe.connect();
    client.close();
    pipe.deliver();
    expect(pipe.clientError?.reason).toBe('closed');
    expect(pipe.serverCloses[0]?.reason).toBe('closed');
    expect([...pipe.server.sessions()]).toHaveLength(0);
  });
});

describe('limits', () => {
  it('refuses handshakes beyond maxHandshakesPerAddress and logs why', () => {
    const pipe = new Pipe({ maxHandshakesPerAddress: 1 });
    pipe.filter = (d) =>
      !(d.from === 'client' && handshakeTypes(d.data)[0] === HandshakeType.clientKeyExchange);
    pipe.connect();
    const first = pipe.client;
    expect(pipe.server.stats.handshakes).toBe(1);
    pipe.clientAddress = { address: '10.0.0.2', port: 40001 };
    pipe.connect();
    expect(pipe.server.stats.handshakes).toBe(1);
    expect(pipe.serverLog.some((l) => l.includes('limit'))).toBe(true);
    void first;
  });
});

describe('timeouts and cleanup', () => {
  it('a client that stalls mid-handshake is forgotten after the handshake timeout, with no timer left', () => {
    const pipe = new Pipe({ handshakeTimeoutMs: 10_000 });
    // the client's Finished flight never arrives
    pipe.filter = (d) =>
      !(d.from === 'client' && d.data.length > 13 && d.data[13] === HandshakeType.clientKeyExchange);
    pipe.connect({ handshakeTimeoutMs: 60_000 });
    expect(pipe.server.stats.handshakes).toBe(1);
    pipe.advance(10_000);
    expect(pipe.server.stats.handshakes).toBe(0);
    expect([...pipe.server.sessions()]).toHaveLength(0);
    expect(pipe.serverLog.join('\n')).toContain('handshake-timeout');
    pipe.client.abort(pipe.serverCloses[0]!);
    pipe.server.close();
    expect(pipe.clock.pending).toBe(0);
  });

  it('an idle established session is dropped after idleTimeoutMs', () => {
    const pipe = new Pipe({ idleTimeoutMs: 60_000 });
    pipe.connect();
    expect(pipe.server.stats.sessions).toBe(1);
    pipe.advance(30_000);
    expect(pipe.server.stats.sessions).toBe(1);
    pipe.advance(61_000);
    expect(pipe.server.stats.sessions).toBe(0);
    expect(pipe.serverCloses[0]?.message).toContain('idle');
  });

  it('resumes a session with an abbreviated handshake and the same identity (RFC 5246 §7.3)', () => {
    const pipe = new Pipe();
    const first = pipe.connect();
    const session = first.session!;
    expect(session.sessionId.length).toBe(32);
    first.close();
    pipe.deliver();
    const before = pipe.log.length;
    const second = pipe.connect({ resume: session });
    expect(second.connected).toBe(true);
    expect(second.wasResumed).toBe(true);
    expect(pipe.sessions[1]!.identity).toEqual({ kind: 'psk', identity: 'device-1' });
    // CH, HVR, CH+cookie, SH+CCS+Finished, CCS+Finished: no key exchange
    expect(pipe.log.length - before).toBe(5);
    second.send(utf8('again'));
    pipe.deliver();
    expect(new TextDecoder().decode(pipe.serverData.at(-1))).toBe('again');
  });

  it('an unknown session id falls back to a full handshake', () => {
    const pipe = new Pipe();
    const c = pipe.connect({
      resume: {
        sessionId: new Uint8Array(32).fill(9),
        suite: 0xc0a8,
        masterSecret: new Uint8Array(48),
        extendedMasterSecret: true,
        identity: undefined,
      },
    });
    expect(c.connected).toBe(true);
    expect(c.wasResumed).toBe(false);
  });
});

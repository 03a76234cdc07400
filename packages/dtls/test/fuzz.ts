/**
 * Fuzzing of the record layer, every handshake message parser and both state machines: random and mutated
 * datagrams must give typed errors (parsers) or be dropped (connections, server engine), never another
 * exception, a hang or unbounded state. `runFuzz` is shared by the small run inside `npm test` and by
 * `npm run fuzz:dtls` (100,000+ inputs).
 */
import { utf8 } from '../src/bytes.js';
import { Connection } from '../src/connection.js';
import { DtlsError } from '../src/errors.js';
import * as hs from '../src/handshake.js';
import { nodeCrypto } from '../src/node/crypto.js';
import { parseRecords } from '../src/record.js';
import { ServerEngine } from '../src/server.js';
import { FakeClock, Pipe } from './helpers.js';
import { ecKey } from './keys.js';

/** xorshift32: reproducible inputs from a seed. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const PARSERS: [string, (b: Uint8Array) => unknown][] = [
  ['records', (b) => parseRecords(b, 0)],
  ['records with CID', (b) => parseRecords(b, 6)],
  ['handshake fragments', hs.parseHandshakeFragments],
  ['ClientHello', hs.parseClientHello],
  ['ServerHello', hs.parseServerHello],
  ['HelloVerifyRequest', hs.parseHelloVerifyRequest],
  ['ServerKeyExchange psk', (b) => hs.parseServerKeyExchange(b, 'psk')],
  ['ServerKeyExchange ecdhe-psk', (b) => hs.parseServerKeyExchange(b, 'ecdhe-psk')],
  ['ServerKeyExchange ecdhe-ecdsa', (b) => hs.parseServerKeyExchange(b, 'ecdhe-ecdsa')],
  ['ClientKeyExchange psk', (b) => hs.parseClientKeyExchange(b, 'psk')],
  ['ClientKeyExchange ecdhe-psk', (b) => hs.parseClientKeyExchange(b, 'ecdhe-psk')],
  ['ClientKeyExchange ecdhe-ecdsa', (b) => hs.parseClientKeyExchange(b, 'ecdhe-ecdsa')],
  ['Certificate', (b) => hs.parseCertificateMessage(b, false)],
  ['Certificate RPK', (b) => hs.parseCertificateMessage(b, true)],
  ['CertificateRequest', hs.parseCertificateRequest],
  ['digitally-signed', (b) => hs.parseDigitallySigned(b, 'CertificateVerify')],
  ['Finished', hs.parseFinished],
];

export { PARSERS };

/** Valid datagrams of a full PSK handshake plus data, and the bodies of its handshake messages, as seeds. */
function corpus(): { datagrams: Uint8Array[]; bodies: Uint8Array[] } {
  const pipe = new Pipe({ pskIdentityHint: 'hint' });
  const client = pipe.connect({ cipherSuites: undefined });
  client.send(utf8('some application data'));
  pipe.deliver();
  // and an ECDHE_ECDSA handshake with raw public keys and client authentication (Certificate,
  // CertificateRequest, CertificateVerify, signed ServerKeyExchange)
  const serverKey = ecKey();
  const clientKey = ecKey();
  const ecdsa = new Pipe({ ecdsa: serverKey, trustedPublicKeys: [clientKey.publicKey] });
  ecdsa.connect({ psk: undefined, ecdsa: clientKey, trustedPublicKeys: [serverKey.publicKey] });
  const datagrams = [...pipe.log, ...ecdsa.log].map((d) => d.data);
  const bodies: Uint8Array[] = [];
  for (const d of datagrams) {
    try {
      for (const r of parseRecords(d, 0)) {
        if (r.type === 22 && r.epoch === 0)
          for (const f of hs.parseHandshakeFragments(r.fragment)) bodies.push(f.body);
      }
    } catch {
      // CID records: not needed as seeds here
    }
  }
  return { datagrams, bodies };
}

function mutate(seed: Uint8Array, next: () => number): Uint8Array {
  const b = seed.slice();
  const kind = next() % 5;
  if (kind === 0 && b.length > 0) return b.subarray(0, next() % b.length); // truncate
  const flips = 1 + (next() % 4);
  for (let i = 0; i < flips && b.length > 0; i++) {
    const at = next() % b.length;
    b[at] = kind === 1 ? b[at]! ^ (1 << (next() % 8)) : next() & 0xff;
  }
  if (kind === 4) {
    const extra = new Uint8Array(next() % 64).map(() => next() & 0xff);
    const out = new Uint8Array(b.length + extra.length);
    out.set(b);
    out.set(extra, b.length);
    return out;
  }
  return b;
}

function randomBytes(next: () => number, max: number): Uint8Array {
  return new Uint8Array(next() % max).map(() => next() & 0xff);
}

export interface FuzzReport {
  readonly inputs: number;
  readonly typedErrors: number;
  readonly accepted: number;
  readonly maxHandshakes: number;
  readonly heapGrowthBytes: number;
}

/**
 * Runs `iterations` inputs through every parser and through a server engine and a client connection. Throws
 * on the first non-`DtlsError` exception or when state grows past its limits.
 */
export function runFuzz(iterations: number, seed = 1): FuzzReport {
  const next = rng(seed);
  const { datagrams, bodies } = corpus();
  const clock = new FakeClock();
  const engine = new ServerEngine(
    { crypto: nodeCrypto, clock, pskLookup: () => utf8('k'), maxHandshakes: 50, maxHandshakesPerAddress: 50 },
    { send: () => {} },
  );
  const client = () =>
    Connection.client(
      { crypto: nodeCrypto, clock, psk: { identity: 'a', key: utf8('k') } },
      { send: () => {} },
    );
  let victim = client();
  // An established session on both sides, fed the same inputs from the peer's own address.
  let pipe = new Pipe();
  pipe.connect();
  let typedErrors = 0;
  let accepted = 0;
  let maxHandshakes = 0;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < iterations; i++) {
    const source = next() % 3;
    const input =
      source === 0
        ? randomBytes(next, 300)
        : source === 1
          ? mutate(datagrams[next() % datagrams.length]!, next)
          : mutate(bodies[next() % bodies.length]!, next);
    const [name, parse] = PARSERS[next() % PARSERS.length]!;
    try {
      parse(input);
      accepted++;
    } catch (e) {
      if (!(e instanceof DtlsError))
        throw new Error(`parser ${name} threw ${String(e)} on input ${Buffer.from(input).toString('hex')}`);
      typedErrors++;
    }
    // The state machines: nothing may escape receive().
    engine.receive(input, `10.0.${(i >> 8) & 255}.${i & 255}`, 1000 + (i % 7));
    victim.receive(input);
    if (victim.closed) victim = client();
    pipe.server.receive(input, pipe.clientAddress.address, pipe.clientAddress.port);
    pipe.client.receive(input);
    pipe.deliver(); // answers (HelloVerifyRequests, alerts) go to the other side
    if (pipe.client.closed || pipe.sessions.length === 0 || !pipe.sessions[0]!.connection.connected) {
      pipe.server.close();
      pipe = new Pipe();
      pipe.connect();
    }
    maxHandshakes = Math.max(maxHandshakes, engine.stats.handshakes);
    if (engine.stats.handshakes > 50) throw new Error('handshake limit exceeded');
    if (i % 1000 === 999) {
      clock.advance(31_000); // handshake timeouts clean up
      // the test network's own records (every datagram and log line) would otherwise grow with the run
      pipe.log.length = 0;
      pipe.serverLog.length = 0;
    }
  }
  engine.close();
  pipe.server.close();
  victim.abort(new DtlsError('closed', 'fuzz done'));
  clock.advance(120_000);
  gc?.(); // with --expose-gc (npm run fuzz:dtls) the growth is retained memory, not garbage
  const heapGrowthBytes = process.memoryUsage().heapUsed - heapBefore;
  return { inputs: iterations, typedErrors, accepted, maxHandshakes, heapGrowthBytes };
}

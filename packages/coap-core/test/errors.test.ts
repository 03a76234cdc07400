import { describe, expect, it } from 'vitest';
import {
  CoapDecodeError,
  CoapEncodeError,
  CoapEndpoint,
  CoapError,
  CoapRequestError,
  CoapStatusError,
  CoapTransportError,
  decodeMessage,
  encodeMessage,
  FakeClock,
  LinkFormatError,
  MemoryNetwork,
  type MessageType,
  type Peer,
  parseLinkFormat,
  parseUri,
  type Transport,
  UriError,
} from '../src/index.js';
import { UdpTransport } from '../src/node.js';

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
}

describe('CoapError: one base for the typed errors of coap-core', () => {
  it('codec, URI and link-format errors are CoapErrors with their own class and reason', () => {
    const decode = thrown(() => decodeMessage(Uint8Array.of(0x40)));
    expect(decode).toBeInstanceOf(CoapDecodeError);
    expect(decode).toBeInstanceOf(CoapError);
    expect((decode as CoapDecodeError).reason).toBe('message-too-short');
    expect((decode as CoapDecodeError).name).toBe('CoapDecodeError');

    const encode = thrown(() => encodeMessage({ type: 9 as MessageType, code: 1, messageId: 1 }));
    expect(encode).toBeInstanceOf(CoapEncodeError);
    expect(encode).toBeInstanceOf(CoapError);
    expect((encode as CoapEncodeError).reason).toBe('invalid-type');

    const uri = thrown(() => parseUri('coap://h/p#frag'));
    expect(uri).toBeInstanceOf(UriError);
    expect(uri).toBeInstanceOf(CoapError);
    expect((uri as UriError).reason).toBe('has-fragment');

    const link = thrown(() => parseLinkFormat('</a'));
    expect(link).toBeInstanceOf(LinkFormatError);
    expect(link).toBeInstanceOf(CoapError);
  });

  it('request and status errors keep their names and reasons', () => {
    const e = new CoapRequestError('timeout', 'no response', { cause: 1 });
    expect(e).toBeInstanceOf(CoapError);
    expect(e.reason).toBe('timeout');
    expect(e.name).toBe('CoapRequestError');
    expect(e.cause).toBe(1);
    const s = new CoapStatusError(0x8d, 'too large');
    expect(s).toBeInstanceOf(CoapError);
    expect(s.code).toBe(0x8d);
    expect(s.reason).toBe('status');
    expect(s.message).toBe('too large');
  });

  it('transport failures are typed: an address in use is a CoapTransportError of reason address', () => {
    const net = new MemoryNetwork();
    net.bind('10.0.0.1', 5683);
    const e = thrown(() => net.bind('10.0.0.1', 5683));
    expect(e).toBeInstanceOf(CoapTransportError);
    expect((e as CoapTransportError).reason).toBe('address');
  });

  it('a failed UDP send is reported as a CoapTransportError of reason send, with the peer and the cause', async () => {
    const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
    try {
      const reported = new Promise<{ error: Error; peer: unknown }>((resolve) =>
        transport.onError((error, peer) => resolve({ error, peer })),
      );
      transport.send(new Uint8Array(70_000), { address: '127.0.0.1', port: 9 }); // EMSGSIZE
      const { error, peer } = await reported;
      expect(error).toBeInstanceOf(CoapTransportError);
      expect((error as CoapTransportError).reason).toBe('send');
      expect((error as CoapTransportError).peer).toEqual({ address: '127.0.0.1', port: 9 });
      expect(peer).toEqual({ address: '127.0.0.1', port: 9 });
      expect(error.cause).toBeInstanceOf(Error);
    } finally {
      await transport.close();
    }
  });

  it('a transport failure towards a peer fails its pending requests: reason transport, the typed error as cause', async () => {
    let report: ((error: Error, peer: Peer | undefined) => void) | undefined;
    const peer: Peer = { address: '10.0.0.2', port: 5684 };
    const transport: Transport = {
      scheme: 'coaps',
      maxDatagramSize: 1152,
      local: { address: '10.0.0.1', port: 5684 },
      onDatagram: () => undefined,
      onError: (handler) => {
        report = handler;
      },
      send: (_bytes, to) =>
        queueMicrotask(() =>
          report?.(
            new CoapTransportError('dtls', 'DTLS session failed: handshake timeout', { peer: to }),
            to,
          ),
        ),
      close: async () => undefined,
    };
    const endpoint = new CoapEndpoint({ transport, clock: new FakeClock() });
    const error = await endpoint.request({ peer, path: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CoapRequestError);
    expect((error as CoapRequestError).reason).toBe('transport');
    const cause = (error as CoapRequestError).cause;
    expect(cause).toBeInstanceOf(CoapTransportError);
    expect((cause as CoapTransportError).reason).toBe('dtls');
    expect((cause as CoapTransportError).peer).toEqual(peer);
    await endpoint.close();
  });
});

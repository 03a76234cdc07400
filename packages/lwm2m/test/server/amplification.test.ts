/**
 * Issue 15 item 5 for the LwM2M server: a server that builds its own endpoint limits responses to
 * unverified sources to 3× the request (RFC 9175 §2.4), e.g. a firmware image served for pull updates.
 */
import {
  Code,
  decodeMessage,
  encodeMessage,
  FakeClock,
  MemoryNetwork,
  MessageType,
  OptionNumber,
  seededRandom,
} from '@thimble/coap-core';
import { Lwm2mServer } from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';

function setup(amplification?: false) {
  const clock = new FakeClock();
  const network = new MemoryNetwork({ clock, seed: 8 });
  const server = new Lwm2mServer({
    transport: network.bind('10.0.0.1', 5683),
    clock,
    random: seededRandom(3),
    ...(amplification === false ? { endpointOptions: { amplification: false } } : {}),
  });
  const image = new Uint8Array(1000).fill(0x5a);
  server.addRoute('GET', '/fw/image.bin', () => ({ code: Code.Content, payload: image }));
  const raw = network.bind('10.0.0.66', 40000);
  const received: Uint8Array[] = [];
  raw.onDatagram((d) => received.push(d.slice()));
  let mid = 1;
  const get = async (echo?: Uint8Array) => {
    received.length = 0;
    const request = encodeMessage({
      type: MessageType.CON,
      code: Code.GET,
      messageId: mid++,
      token: Uint8Array.of(1, 2),
      options: [
        { number: OptionNumber.UriPath, value: 'fw' },
        { number: OptionNumber.UriPath, value: 'image.bin' },
        ...(echo === undefined ? [] : [{ number: OptionNumber.Echo, value: echo }]),
      ],
    }).slice();
    raw.send(request, { address: '10.0.0.1', port: 5683 });
    await clock.advance(2000);
    const bytes = received.reduce((n, d) => n + d.length, 0);
    const response = received.map((d) => decodeMessage(d)).find((m) => m.code !== 0)!;
    return { ratio: bytes / request.length, response };
  };
  return { server, get };
}

describe('Lwm2mServer amplification limit (RFC 9175 §2.4; issue 15 item 5)', () => {
  it('a spoofable GET of a firmware image gets ≤ 3× its size (a first block with Echo), then the image after Echo', async () => {
    const s = setup();
    const first = await s.get();
    expect(first.ratio).toBeLessThanOrEqual(3);
    // a GET: cut to a first Block2 block with an Echo value (RFC 9175 §2.4, RFC 7959 §2.4)
    expect(first.response.code).toBe(Code.Content);
    expect(first.response.payloadLength).toBeLessThan(1000);
    expect(first.response.getUint(OptionNumber.Block2)! & 8).toBe(8);
    const echo = first.response.getOption(OptionNumber.Echo)!.slice();
    const full = await s.get(echo);
    expect(full.response.code).toBe(Code.Content);
    expect(full.response.payloadLength).toBe(1000);
    await s.server.close();
  });

  it('endpointOptions.amplification: false turns the limit off', async () => {
    const s = setup(false);
    const r = await s.get();
    expect(r.response.code).toBe(Code.Content);
    expect(r.ratio).toBeGreaterThan(3);
    await s.server.close();
  });
});

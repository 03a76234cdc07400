/**
 * The endpoint's object-security hooks (ClientSecurity / ServerSecurity) with a toy layer, independent of
 * @thimble/oscore: where the endpoint calls them and what it does with their answers (RFC 8613 §8 shape).
 */
import { describe, expect, it } from 'vitest';
import {
  type ClientSecurity,
  type CoapMessage,
  type CoapOptionInit,
  CoapRequestError,
  Code,
  decodeMessage,
  encodeMessage,
  OptionNumber,
  type OutgoingMessage,
  type ServerSecurity,
} from '../../src/index.js';
import { drive, harness } from './harness.js';

/** "Protection": the code goes into the OSCORE option, the payload is reversed; outer code POST / 2.04. */
function seal(m: OutgoingMessage, outerCode: number): OutgoingMessage {
  return {
    code: outerCode,
    token: m.token,
    options: [...(m.options ?? []), { number: OptionNumber.OSCORE, value: Uint8Array.of(m.code) }],
    payload: m.payload?.slice().reverse(),
  };
}

function open(m: CoapMessage): CoapMessage {
  const marker = m.getOption(OptionNumber.OSCORE);
  if (marker === undefined || marker.length !== 1) throw new Error('not sealed');
  const options: CoapOptionInit[] = m.options
    .filter((o) => o.number !== OptionNumber.OSCORE)
    .map((o) => ({ number: o.number, value: o.value }));
  return decodeMessage(
    encodeMessage({
      type: m.type,
      code: marker[0]!,
      messageId: m.messageId,
      token: m.token,
      options,
      payload: m.payload.slice().reverse(),
    }),
  );
}

const toyClient = (log: string[]): ClientSecurity => ({
  protectRequest(request) {
    log.push(
      `protect ${request.options?.find((o) => o.number === OptionNumber.Block2) ? 'block' : 'request'}`,
    );
    return { message: seal(request, Code.POST), unprotectResponse: open };
  },
});

const toyServer: ServerSecurity = {
  unprotectRequest(request) {
    if (!request.hasOption(OptionNumber.OSCORE)) return undefined;
    if (request.getOption(OptionNumber.OSCORE)?.[0] === 0xff)
      return {
        ok: false,
        response: { code: Code.Unauthorized, payload: new TextEncoder().encode('refused') },
      };
    return {
      ok: true,
      request: open(request),
      identity: { kind: 'toy', peerId: 'p1', context: undefined },
      protectResponse: (response) => seal(response, Code.Changed),
    };
  },
};

function setup() {
  const h = harness({}, { serverSecurity: toyServer, blockSize: 64 });
  const seen: string[] = [];
  h.server.route('GET', '/who', (req) => {
    seen.push(req.security?.kind ?? 'plain');
    return { code: Code.Content, payload: `${req.security?.peerId ?? 'nobody'}` };
  });
  h.server.route('GET', '/big', () => ({ code: Code.Content, payload: 'q'.repeat(200) }));
  h.server.route('GET', '/oscore-only', () => ({ code: Code.Content }), { requireOscore: true });
  return { ...h, seen };
}

describe('CoapEndpoint security hooks (RFC 8613 §8 layering)', () => {
  it('protects requests, routes the opened request with its identity, protects the response', async () => {
    const h = setup();
    const log: string[] = [];
    const r = await drive(h.clock, h.client.get(`${h.serverUri}/who`, { security: toyClient(log) }));
    expect([r.code, r.text()]).toEqual([Code.Content, 'p1']);
    expect(h.seen).toEqual(['toy']);
    expect(log).toEqual(['protect request']);
  });

  it('Block-wise runs above the layer: every block is protected on its own', async () => {
    const h = setup();
    const log: string[] = [];
    const r = await drive(h.clock, h.client.get(`${h.serverUri}/big`, { security: toyClient(log) }));
    expect(r.text()).toBe('q'.repeat(200));
    expect(log).toEqual(['protect request', 'protect block', 'protect block', 'protect block']);
  });

  it("the layer's error answer goes out as is and nothing is routed", async () => {
    const h = setup();
    const r = await drive(
      h.clock,
      h.client.request({
        uri: `${h.serverUri}/who`,
        method: 'POST',
        options: [{ number: OptionNumber.OSCORE, value: Uint8Array.of(0xff) }],
      }),
    );
    expect([r.code, r.text()]).toEqual([Code.Unauthorized, 'refused']);
    expect(h.seen).toEqual([]);
  });

  it('an unsealed response rejects the request with reason security', async () => {
    const h = harness(); // a server without the layer answers 4.02 to the critical OSCORE option
    h.server.route('GET', '/who', () => ({ code: Code.Content }));
    const e = await drive(
      h.clock,
      h.client.get(`${h.serverUri}/who`, { security: toyClient([]) }).catch((x: unknown) => x),
    );
    expect(e).toBeInstanceOf(CoapRequestError);
    expect((e as CoapRequestError).reason).toBe('security');
    expect((e as CoapRequestError).message).toContain('4.02');
  });

  it('requireOscore refuses plain requests and other mechanisms with 4.01', async () => {
    const h = setup();
    const plain = await drive(h.clock, h.client.get(`${h.serverUri}/oscore-only`));
    expect(plain.code).toBe(Code.Unauthorized);
    const toy = await drive(h.clock, h.client.get(`${h.serverUri}/oscore-only`, { security: toyClient([]) }));
    expect(toy.code).toBe(Code.Unauthorized);
  });

  it('a plain request passes the layer untouched', async () => {
    const h = setup();
    const r = await drive(h.clock, h.client.get(`${h.serverUri}/who`));
    expect(r.text()).toBe('nobody');
    expect(h.seen).toEqual(['plain']);
  });
});

/**
 * How an `Lwm2mServer` gets its CoAP endpoint: the caller's (`endpoint`), or one it builds on a
 * `transport`, with the OSCORE layer set at construction (RFC 8613 §8.2) when `oscore` is given; and the
 * routes other services add beside the server's own interfaces (`/rd`, `/dp`, LwM2M TS Transport 1.1 §6).
 */
import { CoapEndpoint, Code, FakeClock, MemoryNetwork, seededRandom } from '@thimble/coap-core';
import { Lwm2mServer, Lwm2mServerError, MemorySecurityStore } from '@thimble/lwm2m';
import { nodeCrypto } from '@thimble/oscore/node';
import { describe, expect, it } from 'vitest';
import { drive, registered, serverSetup } from './harness.js';

function network() {
  const clock = new FakeClock();
  return { clock, network: new MemoryNetwork({ clock, seed: 9 }) };
}

describe('Lwm2mServer construction (endpoint or transport)', () => {
  it('an endpoint together with oscore is refused with a typed error (its security is fixed when built)', () => {
    const { clock, network: net } = network();
    const endpoint = new CoapEndpoint({ transport: net.bind('10.0.0.1', 5683), clock });
    let caught: unknown;
    try {
      new Lwm2mServer({
        endpoint,
        clock,
        security: new MemorySecurityStore(),
        oscore: { crypto: nodeCrypto },
      });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(Lwm2mServerError);
    expect((caught as Lwm2mServerError).reason).toBe('bad-request');
    expect((caught as Error).message).toMatch(/transport/);
  });

  it('built from a transport, the server owns its endpoint (with the OSCORE layer) and close() closes it', async () => {
    const { clock, network: net } = network();
    const server = new Lwm2mServer({
      transport: net.bind('10.0.0.1', 5683),
      endpointOptions: { random: seededRandom(1) },
      clock,
      security: new MemorySecurityStore(),
      oscore: { crypto: nodeCrypto },
    });
    expect(server.endpoint).toBeInstanceOf(CoapEndpoint);
    await server.close();
    await expect(
      server.endpoint.request({ method: 'GET', peer: { address: '10.0.0.2', port: 5683 }, path: 'x' }),
    ).rejects.toThrow(/closed/);
  });

  it("the caller's endpoint stays open after close()", async () => {
    const s = serverSetup();
    await s.server.close();
    // the endpoint still answers (the closed server's routes answer 4.04 for unknown registrations)
    const res = await s.toServer({ method: 'DELETE', path: 'rd/nothing' });
    expect(res.code).toBe(Code.NotFound);
  });
});

describe('Lwm2mServer.addRoute', () => {
  it('serves another resource on the server endpoint (e.g. a firmware image)', async () => {
    const s = serverSetup();
    s.server.addRoute('GET', '/fw/:id', (req) => ({ code: Code.Content, payload: `image ${req.params.id}` }));
    const res = await s.toServer({ method: 'GET', path: 'fw/abc' });
    expect(res.code).toBe(Code.Content);
    expect(new TextDecoder().decode(res.payload)).toBe('image abc');
  });

  it("refuses the server's own interfaces /rd and /dp (LwM2M TS Transport 1.1 §6.2, §6.4.6)", async () => {
    const s = serverSetup();
    for (const pattern of ['/rd', '/rd/:id', 'rd/x', '/dp'])
      expect(() => s.server.addRoute('POST', pattern, () => ({ code: Code.Changed }))).toThrow(
        Lwm2mServerError,
      );
    const dev = s.device(1);
    expect((await registered(s, dev)).endpoint).toBe('dev1');
    await drive(s.clock, dev.stop());
  });
});

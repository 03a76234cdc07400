import { Code, utf8Decode } from '@thimble/coap-core';
import {
  BUILTIN_OBJECTS,
  decodeNode,
  encodeNode,
  ObjectRegistry,
  objectInstance,
  singleResource,
} from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { BS_URI, drive, SERVER, SERVER_URI, until, world } from './harness.js';

const model = new ObjectRegistry(BUILTIN_OBJECTS);
const SENML_CBOR = 112;
const TLV = 11542;

/** A client serving a raw bootstrap endpoint (the client sent its Bootstrap-Request and got 2.04). */
async function serving(version: '1.0' | '1.1' = '1.1', timeout = 60_000) {
  const w = world();
  const raw = w.rawBootstrap();
  const d = w.device({ version, bootstrap: { always: true, timeout, retry: { initialDelay: 5 } } });
  d.client.addInstance(1, 0, { 0: 9, 1: 60, 6: false, 7: 'U' });
  d.client.addInstance(0, 3, {
    0: 'coap://10.9.9.9:5683',
    1: false,
    2: 3,
    3: new Uint8Array(0),
    4: new Uint8Array(0),
    5: new Uint8Array(0),
    10: 9,
  });
  d.client.start();
  await until(w.clock, () => d.client.bootstrapState === 'serving');
  const send = (o: Parameters<typeof raw.send>[0]) => drive(w.clock, raw.send(o));
  return { w, raw, d, send };
}

const securityPayload = (iid: number, uri: string, ssid: number, format = SENML_CBOR) =>
  encodeNode(
    format,
    [0, iid],
    objectInstance(iid, [
      singleResource(0, 'String', uri),
      singleResource(1, 'Boolean', false),
      singleResource(2, 'Integer', 3),
      singleResource(3, 'Opaque', new Uint8Array(0)),
      singleResource(4, 'Opaque', new Uint8Array(0)),
      singleResource(5, 'Opaque', new Uint8Array(0)),
      singleResource(10, 'Integer', ssid),
    ]),
    model,
  );
const serverPayload = (iid: number, ssid: number, format = SENML_CBOR) =>
  encodeNode(
    format,
    [1, iid],
    objectInstance(iid, [
      singleResource(0, 'Integer', ssid),
      singleResource(1, 'Integer', 90),
      singleResource(6, 'Boolean', true),
      singleResource(7, 'String', 'U'),
    ]),
    model,
  );

describe('client Bootstrap interface (LwM2M TS Core 1.1 §5.2.7, §6.1)', () => {
  it('sends POST /bs?ep=NAME&pct=112 (1.1) or without pct (1.0)', async () => {
    const a = await serving('1.1');
    expect(a.raw.requests[0]!.query).toEqual(['ep=dev1', 'pct=112']);
    const b = await serving('1.0');
    expect(b.raw.requests[0]!.query).toEqual(['ep=dev1']);
  });

  it('Bootstrap-Delete on / keeps the bootstrap-server account and the Device object', async () => {
    const { d, send } = await serving();
    expect((await send({ method: 'DELETE', path: '/' })).code).toBe(Code.Deleted);
    expect(d.client.get('/0/0/0')).toBe(BS_URI);
    expect(d.client.get('/0/3/0')).toBeUndefined();
    expect(d.client.get('/1/0/1')).toBeUndefined();
    expect(d.client.get('/3303/0/5700')).toBeUndefined();
    expect(d.client.get('/3/0/0')).toBe('Thimble');
  });

  it('Bootstrap-Delete on an object or an instance; the account and Device refuse with 4.00', async () => {
    const { d, send } = await serving();
    expect((await send({ method: 'DELETE', path: '/0' })).code).toBe(Code.Deleted);
    expect(d.client.get('/0/0/0')).toBe(BS_URI);
    expect(d.client.get('/0/3/0')).toBeUndefined();
    expect(d.client.get('/1/0/1')).toBe(60);
    expect((await send({ method: 'DELETE', path: '/1/0' })).code).toBe(Code.Deleted);
    expect(d.client.get('/1/0/1')).toBeUndefined();
    // deleting what is not there is done already
    expect((await send({ method: 'DELETE', path: '/1/7' })).code).toBe(Code.Deleted);
    const account = await send({ method: 'DELETE', path: '/0/0' });
    expect(account.code).toBe(Code.BadRequest);
    expect(utf8Decode(account.payload)).toContain('bootstrap-server account');
    expect((await send({ method: 'DELETE', path: '/3/0' })).code).toBe(Code.BadRequest);
    expect((await send({ method: 'DELETE', path: '/3/0/0' })).code).toBe(Code.BadRequest);
    expect(d.client.get('/0/0/0')).toBe(BS_URI);
  });

  it('Bootstrap-Discover lists lwm2m version, ssid and uri (Core 1.1 §5.2.7.3)', async () => {
    const { send } = await serving();
    const res = await send({ method: 'GET', path: '/', accept: 40 });
    expect(res.code).toBe(Code.Content);
    expect(res.contentFormat).toBe(40);
    const text = utf8Decode(res.payload);
    expect(text.startsWith('</>;lwm2m=1.1,')).toBe(true);
    expect(text).toContain(`</0/0>;uri="${BS_URI}"`);
    expect(text).toContain('</0/3>;ssid=9;uri="coap://10.9.9.9:5683"');
    expect(text).toContain('</1/0>;ssid=9');
    expect(text).toContain('</3>;ver=1.2,</3/0>');
    const one = utf8Decode((await send({ method: 'GET', path: '/1', accept: 40 })).payload);
    expect(one).toBe('</1>;ver=1.2,</1/0>;ssid=9');
    expect((await send({ method: 'GET', path: '/1/0', accept: 40 })).code).toBe(Code.BadRequest);
  });

  it('Bootstrap-Read serves the Server and Access Control objects only, in 1.1', async () => {
    const { send } = await serving();
    const res = await send({ method: 'GET', path: '/1/0', accept: SENML_CBOR });
    expect(res.code).toBe(Code.Content);
    const node = decodeNode(SENML_CBOR, [1, 0], res.payload, model);
    expect(node).toMatchObject({ kind: 'objectInstance', id: 0 });
    expect((await send({ method: 'GET', path: '/1', accept: TLV })).code).toBe(Code.Content);
    expect((await send({ method: 'GET', path: '/3/0', accept: SENML_CBOR })).code).toBe(Code.BadRequest);
    expect((await send({ method: 'GET', path: '/0/0', accept: SENML_CBOR })).code).toBe(Code.BadRequest);
    const old = await serving('1.0');
    expect((await old.send({ method: 'GET', path: '/1/0', accept: TLV })).code).toBe(Code.MethodNotAllowed);
  });

  it('malformed bootstrap writes get 4.xx and the client goes on', async () => {
    const { w, d, send } = await serving();
    const bad = [
      await send({
        method: 'PUT',
        path: '/0/1',
        contentFormat: TLV,
        payload: new Uint8Array([0xc8, 0x00, 0x09, 1]),
      }),
      await send({ method: 'PUT', path: '/0/1', payload: securityPayload(1, SERVER_URI, 1) }),
      await send({ method: 'PUT', path: '/0/1', contentFormat: 9999, payload: new Uint8Array([1]) }),
      await send({ method: 'PUT', path: '/0/1', contentFormat: SENML_CBOR }),
      await send({
        method: 'PUT',
        path: '/',
        contentFormat: SENML_CBOR,
        payload: securityPayload(1, SERVER_URI, 1),
      }),
      await send({
        method: 'PUT',
        path: '/9999/0',
        contentFormat: SENML_CBOR,
        payload: new Uint8Array([0x80]),
      }),
      await send({
        method: 'PUT',
        path: '/0/1',
        contentFormat: SENML_CBOR,
        payload: new Uint8Array([0xff, 0xfe]),
      }),
      await send({
        method: 'PUT',
        path: '/0/1',
        contentFormat: SENML_CBOR,
        payload: securityPayload(2, SERVER_URI, 1),
      }),
      await send({
        method: 'PUT',
        path: '/3/1',
        contentFormat: SENML_CBOR,
        payload: encodeNode(SENML_CBOR, [3, 1], objectInstance(1, [singleResource(0, 'String', 'x')]), model),
      }),
      await send({ method: 'POST', path: '/1/0/8' }),
      await send({ method: 'FETCH', path: '/' }),
    ];
    expect(bad.map((r) => r.code >> 5)).toEqual(bad.map(() => 4));
    expect(bad.map((r) => `${r.code >> 5}.${String(r.code & 31).padStart(2, '0')}`)).toEqual([
      '4.00',
      '4.00',
      '4.15',
      '4.00',
      '4.00',
      '4.04',
      '4.00',
      '4.00',
      '4.00',
      '4.05',
      '4.05',
    ]);
    expect(d.client.get('/0/1/0')).toBeUndefined();
    // a good write and a good Finish still work
    expect((await send({ method: 'DELETE', path: '/0' })).code).toBe(Code.Deleted);
    expect((await send({ method: 'DELETE', path: '/1' })).code).toBe(Code.Deleted);
    expect(
      (
        await send({
          method: 'PUT',
          path: '/0/1',
          contentFormat: TLV,
          payload: securityPayload(1, SERVER_URI, 5, TLV),
        })
      ).code,
    ).toBe(Code.Changed);
    expect(
      (await send({ method: 'PUT', path: '/1/0', contentFormat: TLV, payload: serverPayload(0, 5, TLV) }))
        .code,
    ).toBe(Code.Changed);
    expect((await send({ method: 'POST', path: '/bs' })).code).toBe(Code.Changed);
    await until(w.clock, () => d.client.registrationState === 'registered');
    expect(w.lwm2m.registration('dev1')!.lifetime).toBe(90);
    expect(d.client.get('/0/1/0')).toBe(SERVER_URI);
  });

  it('Bootstrap-Write on an object writes several instances; on a resource, one resource', async () => {
    const { d, send } = await serving();
    const twoServers = encodeNode(
      TLV,
      [1],
      {
        kind: 'object',
        id: 1,
        instances: [
          objectInstance(4, [
            singleResource(0, 'Integer', 4),
            singleResource(1, 'Integer', 40),
            singleResource(6, 'Boolean', true),
            singleResource(7, 'String', 'U'),
          ]),
          objectInstance(5, [
            singleResource(0, 'Integer', 5),
            singleResource(1, 'Integer', 50),
            singleResource(6, 'Boolean', true),
            singleResource(7, 'String', 'U'),
          ]),
        ],
      },
      model,
    );
    expect((await send({ method: 'PUT', path: '/1', contentFormat: TLV, payload: twoServers })).code).toBe(
      Code.Changed,
    );
    expect(d.client.get('/1/4/1')).toBe(40);
    expect(d.client.get('/1/5/1')).toBe(50);
    const lifetime = encodeNode(SENML_CBOR, [1, 4, 1], singleResource(1, 'Integer', 44), model);
    expect(
      (await send({ method: 'PUT', path: '/1/4/1', contentFormat: SENML_CBOR, payload: lifetime })).code,
    ).toBe(Code.Changed);
    expect(d.client.get('/1/4/1')).toBe(44);
    // replacing an instance drops the resources the payload leaves out
    expect(
      (
        await send({
          method: 'PUT',
          path: '/0/3',
          contentFormat: TLV,
          payload: securityPayload(3, SERVER_URI, 4, TLV),
        })
      ).code,
    ).toBe(Code.Changed);
    expect(d.client.get('/0/3/10')).toBe(4);
  });

  it('Bootstrap-Finish: 4.06 with what is wrong, objects put back, a new Bootstrap-Request after the hold-off', async () => {
    const w = world();
    const raw = w.rawBootstrap();
    // Client Hold Off Time 30 s on the bootstrap account
    const d = w.device({ bootstrap: { retry: { initialDelay: 1 } } }, { 11: 30 });
    d.client.start();
    await until(w.clock, () => raw.requests.length === 1);
    expect(raw.requests[0]!.at).toBe(30_000);
    const send = (o: Parameters<typeof raw.send>[0]) => drive(w.clock, raw.send(o));
    // a Server instance without its Security instance
    expect(
      (await send({ method: 'PUT', path: '/1/0', contentFormat: SENML_CBOR, payload: serverPayload(0, 77) }))
        .code,
    ).toBe(Code.Changed);
    const finish = await send({ method: 'POST', path: '/bs' });
    expect(finish.code).toBe(Code.NotAcceptable);
    expect(utf8Decode(finish.payload)).toContain('no Security instance with Short Server ID 77');
    await until(w.clock, () => d.client.bootstrapState === 'waiting');
    expect(d.client.get('/1/0/0')).toBeUndefined();
    await until(w.clock, () => raw.requests.length === 2);
    // at least the hold-off, whatever the back-off says
    expect(raw.requests[1]!.at - w.clock.now()).toBeLessThanOrEqual(0);
    expect(raw.requests[1]!.at - raw.requests[0]!.at).toBeGreaterThanOrEqual(30_000);
    expect(raw.requests[1]!.at - raw.requests[0]!.at).toBeLessThan(34_000);
    expect(d.errors.some((e) => e.message.includes('inconsistent bootstrap configuration'))).toBe(true);
    // a third attempt after another failure: attempts are counted
    await send({ method: 'POST', path: '/bs' });
    await until(w.clock, () => raw.requests.length === 3);
    expect(d.client.registrationState).toBe('bootstrapping');
  });

  it('no Bootstrap-Finish within the timeout: failed, then tried again; gives up after maxAttempts', async () => {
    const w = world();
    const raw = w.rawBootstrap();
    const d = w.device({ bootstrap: { timeout: 20_000, retry: { initialDelay: 10, maxAttempts: 3 } } });
    const failures: (number | undefined)[] = [];
    d.client.on('bootstrapFailed', (_e, retryIn) => failures.push(retryIn));
    d.client.start();
    await until(w.clock, () => d.client.registrationState === 'failed');
    expect(raw.requests).toHaveLength(3);
    expect(failures).toHaveLength(3);
    expect(failures[2]).toBeUndefined();
    expect(raw.requests[1]!.at - raw.requests[0]!.at).toBeGreaterThanOrEqual(30_000);
    expect(d.errors[0]!.message).toContain('no Bootstrap-Finish within 20000 ms');
    expect(d.client.bootstrapState).toBe('failed');
    // stop / start begins again
    await d.client.stop();
    d.client.start();
    await until(w.clock, () => raw.requests.length === 4);
  });

  it('bootstrap operations only during a bootstrap: outside it POST /bs is 4.00 and the rest is device management', async () => {
    const w = world();
    const raw = w.rawBootstrap();
    const d = w.device({ bootstrap: {} });
    const send = (o: Parameters<typeof raw.send>[0]) => drive(w.clock, raw.send(o));
    expect((await send({ method: 'POST', path: '/bs' })).code).toBe(Code.BadRequest);
    expect((await send({ method: 'DELETE', path: '/' })).code).toBe(Code.MethodNotAllowed);
    expect((await send({ method: 'GET', path: '/0/0' })).code).toBe(Code.Unauthorized);
    expect(d.client.get('/3303/0/5700')).toBe(21.5);
    // during a bootstrap, a request from another peer is not a bootstrap operation
    d.client.start();
    await until(w.clock, () => d.client.bootstrapState === 'serving');
    const other = w.device().endpoint;
    const res = await drive(w.clock, other.request({ method: 'DELETE', uri: 'coap://10.0.1.1:56830/0/0' }));
    expect(res.code).toBe(Code.Unauthorized);
    const fin = await drive(w.clock, other.request({ method: 'POST', uri: 'coap://10.0.1.1:56830/bs' }));
    expect(fin.code).toBe(Code.BadRequest);
    expect(d.client.get('/0/0/0')).toBe(BS_URI);
  });

  it('server-initiated bootstrap: the bootstrap server may start during the hold-off', async () => {
    const w = world();
    const raw = w.rawBootstrap();
    const d = w.device({}, { 11: 3600 });
    d.client.start();
    await w.clock.advance(1000);
    expect(d.client.bootstrapState).toBe('holdoff');
    const send = (o: Parameters<typeof raw.send>[0]) => drive(w.clock, raw.send(o), 10_000);
    expect(
      (
        await send({
          method: 'PUT',
          path: '/0/1',
          contentFormat: SENML_CBOR,
          payload: securityPayload(1, SERVER_URI, 3),
        })
      ).code,
    ).toBe(Code.Changed);
    expect(d.client.bootstrapState).toBe('serving');
    expect(
      (await send({ method: 'PUT', path: '/1/0', contentFormat: SENML_CBOR, payload: serverPayload(0, 3) }))
        .code,
    ).toBe(Code.Changed);
    expect((await send({ method: 'POST', path: '/bs' })).code).toBe(Code.Changed);
    await until(w.clock, () => d.client.registrationState === 'registered', 60_000);
    expect(raw.requests).toHaveLength(0);
    expect(w.lwm2m.registration('dev1')!.peer.address).toBe('10.0.1.1');
    void SERVER;
  });

  it('Bootstrap-Server Account Timeout (/0/x/12): the account is purged that long after a bootstrap', async () => {
    const w = world();
    const raw = w.rawBootstrap();
    const d = w.device({}, { 12: 60 });
    d.client.start();
    await until(w.clock, () => d.client.bootstrapState === 'serving');
    const send = (o: Parameters<typeof raw.send>[0]) => drive(w.clock, raw.send(o));
    await send({
      method: 'PUT',
      path: '/0/1',
      contentFormat: SENML_CBOR,
      payload: securityPayload(1, SERVER_URI, 3),
    });
    await send({ method: 'PUT', path: '/1/0', contentFormat: SENML_CBOR, payload: serverPayload(0, 3) });
    expect((await send({ method: 'POST', path: '/bs' })).code).toBe(Code.Changed);
    const done = w.clock.now();
    await until(w.clock, () => d.client.registrationState === 'registered');
    expect(d.client.get('/0/0/0')).toBe(BS_URI);
    await until(w.clock, () => d.client.get('/0/0/0') === undefined);
    expect(w.clock.now() - done).toBeGreaterThanOrEqual(60_000);
    expect(w.clock.now() - done).toBeLessThan(62_000);
    expect(d.client.get('/0/1/0')).toBe(SERVER_URI);
  });

  it('a 1.0 client: Bootstrap-Discover without uri attributes', async () => {
    const { send } = await serving('1.0');
    const text = utf8Decode((await send({ method: 'GET', path: '/', accept: 40 })).payload);
    expect(text.startsWith('</>;lwm2m=1.0,')).toBe(true);
    expect(text).toContain('</0/0>,</0/3>;ssid=9,');
    expect(text).not.toContain('uri=');
  });

  it('a registration that fails for good falls back to bootstrap (/1/x/16), and /1/x/9 triggers one', async () => {
    const w = world();
    const raw = w.rawBootstrap();
    const d = w.device({ retry: { count: 2, timer: 1, sequenceCount: 1 } });
    // a server account that answers nothing
    d.client.addInstance(0, 1, {
      0: 'coap://10.0.0.99:5683',
      1: false,
      2: 3,
      3: new Uint8Array(0),
      4: new Uint8Array(0),
      5: new Uint8Array(0),
      10: 1,
    });
    d.client.addInstance(1, 0, { 0: 1, 1: 60, 6: false, 7: 'U' });
    d.client.start();
    expect(d.client.registrationState).toBe('registering');
    await until(w.clock, () => raw.requests.length === 1);
    expect(d.client.registrationState).toBe('bootstrapping');
    // Finish with the old, consistent but unreachable, configuration: registration is tried again
    await drive(w.clock, raw.send({ method: 'POST', path: '/bs' }));
    await until(w.clock, () => d.client.registrationState === 'registering');
  });
});

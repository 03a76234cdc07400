import { Code, OptionNumber, utf8Encode } from '@thimble/coap-core';
import {
  BUILTIN_OBJECTS,
  decodeNode,
  encodeNode,
  ObjectRegistry,
  objectInstance,
  parseDiscover,
  singleResource,
} from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { drive, setup, until } from './harness.js';

const model = new ObjectRegistry(BUILTIN_OBJECTS);

async function registered(options: Parameters<typeof setup>[0] = {}) {
  const s = setup(options);
  s.client.start();
  await until(s.clock, () => s.client.registrationState === 'registered');
  return s;
}

describe('Lwm2mClient device management (LwM2M TS Core 1.1 §6.3, Transport §6.3)', () => {
  it.each([
    ['TLV', 11542],
    ['SenML CBOR', 112],
    ['SenML JSON', 110],
    ['LwM2M JSON', 11543],
    ['LwM2M CBOR', 11544],
  ])('Read /3/0 in %s (Accept %i)', async (_name, format) => {
    const { clock, server } = await registered();
    const res = await drive(clock, server.send({ method: 'GET', path: '/3/0', accept: format }));
    expect(res.code).toBe(Code.Content);
    expect(res.contentFormat).toBe(format);
    const node = decodeNode(format, [3, 0], res.payload, model);
    expect(node.kind).toBe('objectInstance');
    if (node.kind !== 'objectInstance') return;
    const byId = (id: number) => node.resources.find((r) => r.id === id);
    expect(byId(0)).toMatchObject({ value: 'Thimble' });
    expect(byId(3)).toMatchObject({ value: '1.0.0' });
    expect(byId(11)).toMatchObject({ kind: 'multipleResource', instances: [{ id: 0, value: 0 }] });
    // Execute-only resources are never read
    expect(byId(4)).toBeUndefined();
  });

  it('Read of a resource as text/plain, and the default formats (TLV for 1.0, SenML CBOR for 1.1)', async () => {
    const { clock, server } = await registered();
    const text = await drive(clock, server.send({ method: 'GET', path: '/3/0/0', accept: 0 }));
    expect(text.text()).toBe('Thimble');
    const def = await drive(clock, server.send({ method: 'GET', path: '/3303/0/5700' }));
    expect(def.contentFormat).toBe(112);
    const v10 = await registered({ version: '1.0' });
    const tlv = await drive(v10.clock, v10.server.send({ method: 'GET', path: '/3303/0' }));
    expect(tlv.contentFormat).toBe(11542);
  });

  it('Read calls read callbacks (sync and async) and reads a resource instance', async () => {
    const { clock, server, client } = await registered();
    let n = 0;
    client.addInstance(3303, 5, {
      5700: { read: () => 10 + n++ },
      5701: { read: async () => 'Cel' },
    });
    const a = await drive(clock, server.send({ method: 'GET', path: '/3303/5/5700', accept: 0 }));
    const b = await drive(clock, server.send({ method: 'GET', path: '/3303/5/5700', accept: 0 }));
    expect([a.text(), b.text()]).toEqual(['10', '11']);
    const unit = await drive(clock, server.send({ method: 'GET', path: '/3303/5/5701', accept: 0 }));
    expect(unit.text()).toBe('Cel');
    const ri = await drive(clock, server.send({ method: 'GET', path: '/3/0/11/0', accept: 0 }));
    expect(ri.text()).toBe('0');
  });

  it('answers 4.04, 4.05, 4.06, 4.01 and 5.00 as the specification says', async () => {
    const { clock, server, client } = await registered();
    client.addInstance(3303, 7, {
      5700: {
        read: () => {
          throw new Error('sensor unplugged');
        },
      },
    });
    const code = async (o: Parameters<typeof server.send>[0]) => (await drive(clock, server.send(o))).code;
    expect(await code({ method: 'GET', path: '/3/1' })).toBe(Code.NotFound);
    expect(await code({ method: 'GET', path: '/9999' })).toBe(Code.NotFound);
    expect(await code({ method: 'GET', path: '/3/0/9' })).toBe(Code.NotFound);
    expect(await code({ method: 'GET', path: '/abc/0' })).toBe(Code.NotFound);
    expect(await code({ method: 'GET', path: '/3/0/4' })).toBe(Code.MethodNotAllowed); // Execute-only
    expect(await code({ method: 'PUT', path: '/3/0/0', payload: 'x', contentFormat: 0 })).toBe(
      Code.MethodNotAllowed,
    );
    expect(await code({ method: 'DELETE', path: '/3/0' })).toBe(Code.MethodNotAllowed);
    expect(await code({ method: 'GET', path: '/3/0', accept: 0 })).toBe(Code.NotAcceptable);
    expect(await code({ method: 'GET', path: '/3/0', accept: 50 })).toBe(Code.NotAcceptable);
    expect(await code({ method: 'GET', path: '/0/0' })).toBe(Code.Unauthorized);
    expect(await code({ method: 'GET', path: '/3303/7/5700', accept: 0 })).toBe(Code.InternalServerError);
  });

  it('Write replaces a resource (PUT) and calls the write callback; lifetime goes out in an Update', async () => {
    const { clock, server, client } = await registered();
    const written: unknown[] = [];
    client.addInstance(3311, 0, { 5850: { write: (v) => void written.push(v) }, 5851: 10 });
    const res = await drive(
      clock,
      server.send({ method: 'PUT', path: '/3311/0/5850', payload: '1', contentFormat: 0 }),
    );
    expect(res.code).toBe(Code.Changed);
    expect(written).toEqual([true]);
    expect(client.get('/3311/0/5850')).toBe(true);
    const lt = await drive(
      clock,
      server.send({ method: 'PUT', path: '/1/0/1', payload: '120', contentFormat: 0 }),
    );
    expect(lt.code).toBe(Code.Changed);
    await until(clock, () => server.updates().some((u) => u.query.includes('lt=120')));
    expect(client.lifetime).toBe(120);
  });

  it('Write on an instance: partial update (POST) and replace (PUT), TLV and SenML', async () => {
    const { clock, server, client } = await registered();
    client.addInstance(3311, 0, { 5850: false, 5851: 10, 5750: 'lamp' });
    const tlv = encodeNode(11542, [3311, 0], objectInstance(0, [singleResource(5851, 'Integer', 55)]), model);
    const post = await drive(
      clock,
      server.send({ method: 'POST', path: '/3311/0', payload: tlv, contentFormat: 11542 }),
    );
    expect(post.code).toBe(Code.Changed);
    expect(client.get('/3311/0/5851')).toBe(55);
    expect(client.get('/3311/0/5750')).toBe('lamp');
    const senml = encodeNode(
      110,
      [3311, 0],
      objectInstance(0, [singleResource(5850, 'Boolean', true), singleResource(5851, 'Integer', 7)]),
      model,
    );
    const put = await drive(
      clock,
      server.send({ method: 'PUT', path: '/3311/0', payload: senml, contentFormat: 110 }),
    );
    expect(put.code).toBe(Code.Changed);
    expect(client.get('/3311/0/5850')).toBe(true);
    // replace: the optional writable resource left out is gone
    expect(client.get('/3311/0/5750')).toBeUndefined();
    // a read-only resource in a Write → 4.05, and nothing changes
    const bad = encodeNode(11542, [3303, 0], objectInstance(0, [singleResource(5700, 'Float', 1)]), model);
    const r = await drive(
      clock,
      server.send({ method: 'POST', path: '/3303/0', payload: bad, contentFormat: 11542 }),
    );
    expect(r.code).toBe(Code.MethodNotAllowed);
    expect(client.get('/3303/0/5700')).toBe(21.5);
  });

  it('Execute calls the execute callback with its arguments', async () => {
    const { clock, server, client } = await registered();
    const calls: string[] = [];
    client.removeInstance(3, 0);
    client.addInstance(3, 0, { 0: 'Thimble', 4: { execute: (args) => void calls.push(args) } });
    const a = await drive(clock, server.send({ method: 'POST', path: '/3/0/4' }));
    const b = await drive(
      clock,
      server.send({ method: 'POST', path: '/3/0/4', payload: "0='now'", contentFormat: 0 }),
    );
    expect([a.code, b.code]).toEqual([Code.Changed, Code.Changed]);
    expect(calls).toEqual(['', "0='now'"]);
    const notImplemented = await drive(clock, server.send({ method: 'POST', path: '/3/0/5' }));
    expect(notImplemented.code).toBe(Code.NotFound);
    const before = server.updates().length;
    const trigger = await drive(clock, server.send({ method: 'POST', path: '/1/0/8' }));
    expect(trigger.code).toBe(Code.Changed);
    await until(clock, () => server.updates().length > before);
  });

  it('Create (POST /o) answers 2.01 with the Location-Path; Delete removes it; both update the registration', async () => {
    const { clock, server, client } = await registered();
    const node = objectInstance(4, [
      singleResource(5700, 'Float', 18.25),
      singleResource(5701, 'String', 'Cel'),
    ]);
    const payload = encodeNode(11542, [3303, 4], node, model);
    // TLV with the instance wrapper, as Leshan sends it
    const wrapped = new Uint8Array(payload.length + 3);
    wrapped.set([0x08, 4, payload.length]);
    wrapped.set(payload, 3);
    const res = await drive(
      clock,
      server.send({ method: 'POST', path: '/3303', payload: wrapped, contentFormat: 11542 }),
    );
    expect(res.code).toBe(Code.Created);
    expect(res.message.getStrings(OptionNumber.LocationPath)).toEqual(['3303', '4']);
    expect(client.get('/3303/4/5700')).toBe(18.25);
    await until(clock, () => server.updates().length === 1);
    expect(server.updates()[0]!.payload).toContain('</3303/4>');
    const again = await drive(
      clock,
      server.send({ method: 'POST', path: '/3303', payload: wrapped, contentFormat: 11542 }),
    );
    expect(again.code).toBe(Code.BadRequest);
    // SenML without an instance wrapper problem: the paths name the instance
    const senml = encodeNode(112, [3303, 6], objectInstance(6, [singleResource(5700, 'Float', 1.5)]), model);
    const s = await drive(
      clock,
      server.send({ method: 'POST', path: '/3303', payload: senml, contentFormat: 112 }),
    );
    expect(s.code).toBe(Code.Created);
    expect(s.message.getStrings(OptionNumber.LocationPath)).toEqual(['3303', '6']);
    const del = await drive(clock, server.send({ method: 'DELETE', path: '/3303/4' }));
    expect(del.code).toBe(Code.Deleted);
    expect(client.get('/3303/4/5700')).toBeUndefined();
    await until(clock, () =>
      server.updates().some((u) => u.payload !== '' && !u.payload.includes('</3303/4>')),
    );
    const gone = await drive(clock, server.send({ method: 'DELETE', path: '/3303/4' }));
    expect(gone.code).toBe(Code.NotFound);
  });

  it('Discover lists objects, instances, resources, dim and written attributes (§6.3.4)', async () => {
    const { clock, server } = await registered();
    const wa = await drive(
      clock,
      server.send({ method: 'PUT', path: '/3303/0/5700', query: ['pmin=5', 'pmax=60', 'st=0.5'] }),
    );
    expect(wa.code).toBe(Code.Changed);
    const res = await drive(clock, server.send({ method: 'GET', path: '/3303', accept: 40 }));
    expect(res.contentFormat).toBe(40);
    const links = parseDiscover(res.text());
    expect(links[0]).toEqual({ path: [3303], attributes: { ver: '1.1' } });
    expect(links).toContainEqual({ path: [3303, 0], attributes: {} });
    expect(links).toContainEqual({ path: [3303, 0, 5700], attributes: { pmin: 5, pmax: 60, st: 0.5 } });
    const dev = parseDiscover(
      (await drive(clock, server.send({ method: 'GET', path: '/3/0', accept: 40 }))).text(),
    );
    expect(dev).toContainEqual({ path: [3, 0, 11], attributes: { dim: 1 } });
    const one = parseDiscover(
      (await drive(clock, server.send({ method: 'GET', path: '/3/0/0', accept: 40 }))).text(),
    );
    expect(one).toEqual([{ path: [3, 0, 0], attributes: {} }]);
  });

  it('Write-Attributes rejects bad attributes with 4.00 and unknown paths with 4.04', async () => {
    const { clock, server } = await registered();
    const code = async (path: string, query: string[]) =>
      (await drive(clock, server.send({ method: 'PUT', path, query }))).code;
    expect(await code('/3303/0/5700', ['pmin=abc'])).toBe(Code.BadRequest);
    expect(await code('/3303/0/5700', ['foo=1'])).toBe(Code.BadRequest);
    expect(await code('/3303/0/5700', ['pmin=10', 'pmax=5'])).toBe(Code.BadRequest);
    expect(await code('/3303/0', ['gt=5'])).toBe(Code.BadRequest);
    expect(await code('/3303/0/5700', ['lt=10', 'gt=5'])).toBe(Code.BadRequest);
    expect(await code('/3303/9', ['pmin=1'])).toBe(Code.NotFound);
    expect(await code('/3303/0', ['pmin=1'])).toBe(Code.Changed);
    expect(await code('/3303/0', ['pmin'])).toBe(Code.Changed); // a bare name removes it
  });

  it('Read-Composite (FETCH /) and Write-Composite (iPATCH /) in SenML', async () => {
    const { clock, server, client } = await registered();
    client.addInstance(3311, 0, { 5850: false, 5851: 10 });
    const paths = utf8Encode('[{"n":"/3/0/0"},{"n":"/3303/0/5700"},{"n":"/9/9/9"}]');
    const res = await drive(
      clock,
      server.send({ method: 'FETCH', path: '/', payload: paths, contentFormat: 110, accept: 110 }),
    );
    expect(res.code).toBe(Code.Content);
    const records = JSON.parse(res.text()) as { n?: string; bn?: string; v?: number; vs?: string }[];
    expect(records.some((r) => r.vs === 'Thimble')).toBe(true);
    expect(records.some((r) => r.v === 21.5)).toBe(true);
    const body = utf8Encode('[{"n":"/3311/0/5850","vb":true},{"n":"/3311/0/5851","v":42}]');
    const w = await drive(
      clock,
      server.send({ method: 'iPATCH', path: '/', payload: body, contentFormat: 110 }),
    );
    expect(w.code).toBe(Code.Changed);
    expect(client.get('/3311/0/5850')).toBe(true);
    expect(client.get('/3311/0/5851')).toBe(42);
  });

  it('malformed requests get 4.xx and the client keeps serving', async () => {
    const { clock, server, client } = await registered();
    client.addInstance(3311, 0, { 5850: false, 5851: 10 });
    const code = async (o: Parameters<typeof server.send>[0]) => (await drive(clock, server.send(o))).code;
    const junk = new Uint8Array([0xc8, 0x00, 0xff, 0x01]);
    expect(await code({ method: 'PUT', path: '/3311/0', payload: junk, contentFormat: 11542 })).toBe(
      Code.BadRequest,
    );
    expect(await code({ method: 'PUT', path: '/3311/0/5851', payload: 'twelve', contentFormat: 0 })).toBe(
      Code.BadRequest,
    );
    expect(await code({ method: 'PUT', path: '/3311/0/5851', payload: '1', contentFormat: 9999 })).toBe(
      Code.UnsupportedContentFormat,
    );
    expect(await code({ method: 'PUT', path: '/3311/0/5851', payload: '1' })).toBe(Code.BadRequest);
    expect(await code({ method: 'POST', path: '/3303', payload: junk, contentFormat: 112 })).toBe(
      Code.BadRequest,
    );
    expect(await code({ method: 'FETCH', path: '/', payload: junk, contentFormat: 110 })).toBe(
      Code.BadRequest,
    );
    expect(await code({ method: 'GET', path: '/3/0/0/0/0' })).toBe(Code.NotFound);
    const ok = await drive(clock, server.send({ method: 'GET', path: '/3/0/0', accept: 0 }));
    expect(ok.text()).toBe('Thimble');
    expect(client.registrationState).toBe('registered');
  });
});

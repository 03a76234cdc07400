import {
  type Lwm2mNode,
  Lwm2mServerError,
  multipleResource,
  type ObjectInstanceNode,
  objectInstance,
  singleResource,
} from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { drive, registered, type ServerSetup, serverSetup, until } from './harness.js';

async function withDevice(options: Parameters<ServerSetup['device']>[1] = {}) {
  const s = serverSetup();
  const client = s.device(1, options);
  const registration = await registered(s, client);
  return { ...s, client, registration };
}

function resourceOf(node: Lwm2mNode, id: number) {
  if (node.kind !== 'objectInstance') throw new Error(`not an instance: ${node.kind}`);
  return node.resources.find((r) => r.id === id);
}

async function rejection(p: Promise<unknown>, clockOwner: ServerSetup): Promise<Lwm2mServerError> {
  const caught = await drive(
    clockOwner.clock,
    p.then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  expect(caught).toBeInstanceOf(Lwm2mServerError);
  return caught as Lwm2mServerError;
}

describe('Lwm2mServer device management (LwM2M TS Core 1.1 §6.3)', () => {
  it.each([
    ['TLV', 11542],
    ['SenML CBOR', 112],
    ['SenML JSON', 110],
    ['LwM2M CBOR', 11544],
  ])('Read /3/0 in %s gives what the client holds', async (_, format) => {
    const s = await withDevice();
    const node = await drive(s.clock, s.server.read('dev1', '/3/0', { format }));
    expect(node.kind).toBe('objectInstance');
    expect(resourceOf(node, 0)).toMatchObject({ kind: 'resource', value: 'Thimble' });
    expect(resourceOf(node, 1)).toMatchObject({ value: 'Model T' });
    const errors = resourceOf(node, 11);
    expect(errors?.kind).toBe('multipleResource');
    if (errors?.kind === 'multipleResource') expect(errors.instances.map((i) => i.value)).toEqual([0, 3]);
  });

  it('Read of a resource in text/plain, and the default format (SenML CBOR for 1.1, TLV for 1.0)', async () => {
    const s = await withDevice();
    const text = await drive(s.clock, s.server.read('dev1', '/3303/0/5700', { format: 0 }));
    expect(text).toMatchObject({ kind: 'resource', id: 5700, value: 21.5 });
    const byDefault = await drive(s.clock, s.server.read('dev1', [3303, 0, 5701]));
    expect(byDefault).toMatchObject({ kind: 'resource', value: 'Cel' });
    const old = serverSetup();
    const c10 = old.device(2, { version: '1.0' });
    const r10 = await registered(old, c10);
    expect(r10.version).toBe('1.0');
    const n10 = await drive(old.clock, old.server.read('dev2', '/3/0/0'));
    expect(n10).toMatchObject({ kind: 'resource', value: 'Thimble' });
  });

  it('Write (replace) then Read back, in SenML CBOR and TLV', async () => {
    const s = await withDevice();
    await drive(s.clock, s.server.write('dev1', '/1/0/6', singleResource(6, 'Boolean', true)));
    expect(s.client.get('/1/0/6')).toBe(true);
    await drive(
      s.clock,
      s.server.write('dev1', '/1/0/6', singleResource(6, 'Boolean', false), { format: 11542 }),
    );
    const back = await drive(s.clock, s.server.read('dev1', '/1/0/6', { format: 11542 }));
    expect(back).toMatchObject({ value: false });
    await drive(s.clock, s.server.write('dev1', '/1/0/1', singleResource(1, 'Integer', 600), { format: 0 }));
    const lt = await drive(s.clock, s.server.read('dev1', '/1/0/1', { format: 110 }));
    expect(lt).toMatchObject({ value: 600 });
  });

  it('Write partial update (POST) of an instance changes only the resources given', async () => {
    const s = await withDevice();
    await drive(
      s.clock,
      s.server.write('dev1', '/1/0', objectInstance(0, [singleResource(6, 'Boolean', true)]), {
        replace: false,
      }),
    );
    expect(s.client.get('/1/0/6')).toBe(true);
    expect(s.client.get('/1/0/1')).toBe(300);
  });

  it('Write to a read-only resource: the device answer 4.05 comes back as a device-error with its code', async () => {
    const s = await withDevice();
    const node = multipleResource(11, 'Integer', [1, 2]);
    const e = await rejection(s.server.write('dev1', '/3/0/11', node), s);
    // /3/0/11 is read-only: the device says 4.05
    expect(e.reason).toBe('device-error');
    expect(e.codeText).toBe('4.05');
  });

  it('Execute reaches the client callback with its arguments', async () => {
    const s = await withDevice();
    const calls: string[] = [];
    s.client.removeInstance(3, 0);
    s.client.addInstance(3, 0, { 0: 'Thimble', 4: { execute: (args) => void calls.push(args) } });
    await drive(s.clock, s.server.execute('dev1', '/3/0/4'));
    await drive(s.clock, s.server.execute('dev1', '/3/0/4', "0='now'"));
    expect(calls).toEqual(['', "0='now'"]);
    const e = await rejection(s.server.execute('dev1', '/3/0/5'), s);
    expect(e.codeText).toBe('4.04');
  });

  it('Create an instance, Read it, then Delete it (§6.3.7, §6.3.8)', async () => {
    const s = await withDevice();
    const instance: ObjectInstanceNode = objectInstance(1, [
      singleResource(5700, 'Float', 30),
      singleResource(5701, 'String', 'Cel'),
    ]);
    const id = await drive(s.clock, s.server.create('dev1', '/3303', instance));
    expect(id).toBe(1);
    expect(s.client.get('/3303/1/5700')).toBe(30);
    const node = await drive(s.clock, s.server.read('dev1', '/3303/1'));
    expect(resourceOf(node, 5700)).toMatchObject({ value: 30 });
    // the client reports its new instance with an Update
    await until(s.clock, () =>
      s.server.registration('dev1')!.objects.some((o) => o.path.join('/') === '3303/1'),
    );
    await drive(s.clock, s.server.delete('dev1', '/3303/1'));
    expect(s.client.get('/3303/1/5700')).toBeUndefined();
    const gone = await rejection(s.server.read('dev1', '/3303/1'), s);
    expect(gone.codeText).toBe('4.04');
  });

  it('Discover lists the instance, its resources and written attributes (§6.3.4, §6.3.2)', async () => {
    const s = await withDevice();
    await drive(s.clock, s.server.writeAttributes('dev1', '/3303/0/5700', { pmin: 5, pmax: 60, st: 0.5 }));
    const links = await drive(s.clock, s.server.discover('dev1', '/3303/0'));
    const paths = links.map((l) => l.path.join('/'));
    expect(paths).toContain('3303/0');
    expect(paths).toContain('3303/0/5700');
    const temp = links.find((l) => l.path.join('/') === '3303/0/5700')!;
    expect(temp.attributes).toMatchObject({ pmin: 5, pmax: 60, st: 0.5 });
    await drive(s.clock, s.server.writeAttributes('dev1', '/3303/0/5700', { pmin: null }));
    const after = await drive(s.clock, s.server.discover('dev1', '/3303/0/5700'));
    expect(after[0]!.attributes.pmin).toBeUndefined();
    expect(after[0]!.attributes.pmax).toBe(60);
  });

  it('Read-Composite and Write-Composite (§6.3.6, §6.3.3, 1.1)', async () => {
    const s = await withDevice();
    const entries = await drive(s.clock, s.server.readComposite('dev1', ['/3/0/0', '/3303/0/5700']));
    expect(entries.map((e) => [e.path.join('/'), (e.node as { value?: unknown }).value])).toEqual([
      ['3/0/0', 'Thimble'],
      ['3303/0/5700', 21.5],
    ]);
    await drive(
      s.clock,
      s.server.writeComposite('dev1', [{ path: [1, 0, 6], node: singleResource(6, 'Boolean', true) }]),
    );
    expect(s.client.get('/1/0/6')).toBe(true);
  });

  it('errors: unknown endpoint, bad path, device 4.04, timeout', async () => {
    const s = await withDevice();
    const unknown = await rejection(s.server.read('nobody', '/3/0'), s);
    expect(unknown.reason).toBe('unknown-endpoint');
    const badPath = await rejection(s.server.read('dev1', '/3/x'), s);
    expect(badPath.reason).toBe('bad-request');
    const notFound = await rejection(s.server.read('dev1', '/3/7'), s);
    expect(notFound.reason).toBe('device-error');
    expect(notFound.code).toBe(0x84);
    // the device vanishes without deregistering
    await s.client.endpoint.close();
    const t0 = s.clock.now();
    const timeout = await rejection(s.server.read('dev1', '/3/0', { timeout: 5000 }), s);
    expect(timeout.reason).toBe('timeout');
    expect(s.clock.now() - t0).toBeLessThan(200_000);
  });
});

/**
 * Access Control (LwM2M TS Core 1.1 §7.3.2, Appendix E.3, object 2) with two servers: server A (Short
 * Server ID 1) and server B (2), each one of our Lwm2mServers, both managing the same client.
 */
import { CoapEndpoint, FakeClock, MemoryNetwork, seededRandom } from '@thimble/coap-core';
import {
  Lwm2mClient,
  Lwm2mServer,
  Lwm2mServerError,
  multipleResource,
  objectInstance,
  singleResource,
} from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { CLIENT, CLIENT_PORT, drive, SERVER, until } from './harness.js';

const SERVER_B = '10.0.0.3';

async function aclSetup() {
  const clock = new FakeClock();
  const network = new MemoryNetwork({ clock, seed: 3 });
  const bind = (address: string) =>
    new Lwm2mServer({
      endpoint: new CoapEndpoint({ transport: network.bind(address, 5683), clock, random: seededRandom(1) }),
      clock,
      random: seededRandom(7),
    });
  const a = bind(SERVER);
  const b = bind(SERVER_B);
  const client = new Lwm2mClient({
    endpointName: 'acl',
    endpoint: new CoapEndpoint({
      transport: network.bind(CLIENT, CLIENT_PORT),
      clock,
      random: seededRandom(2),
    }),
    clock,
    random: seededRandom(9),
  });
  const executed: string[] = [];
  client.addInstance(0, 0, { 0: `coap://${SERVER}:5683`, 1: false, 2: 3, 10: 1 });
  client.addInstance(0, 1, { 0: `coap://${SERVER_B}:5683`, 1: false, 2: 3, 10: 2 });
  client.addInstance(1, 0, { 0: 1, 1: 300, 6: false, 7: 'U' });
  client.addInstance(1, 1, { 0: 2, 1: 300, 6: false, 7: 'U' });
  client.addInstance(3, 0, {
    0: 'Thimble',
    4: {
      execute: () => {
        executed.push('reboot');
      },
    },
  });
  client.addInstance(3303, 0, { 5700: 21.5, 5750: 'room' });
  // /3/0: A may read, write and execute; B has no entry and there is no default: nothing
  client.addInstance(2, 0, { 0: 3, 1: 0, 2: [[1, 7]], 3: 1 });
  // /3303/0: owned by B (full access); everyone else reads (default ACL, resource instance 0)
  client.addInstance(2, 1, { 0: 3303, 1: 0, 2: [[0, 1]], 3: 2 });
  // Create in 3303: A only
  client.addInstance(2, 2, { 0: 3303, 1: 65535, 2: [[1, 16]], 3: 1 });
  client.start();
  await until(clock, () => client.servers().every((s) => s.state === 'registered'));
  /** '2.xx' on success, else the device's error code. */
  const code = (p: Promise<unknown>): Promise<string> =>
    drive(
      clock,
      p.then(
        () => 'ok',
        (e: unknown) => (e instanceof Lwm2mServerError ? (e.codeText ?? e.message) : `thrown: ${String(e)}`),
      ),
    );
  return { clock, client, a, b, code, executed };
}

describe('Access Control with two servers (Core §7.3.2, Appendix E.3)', () => {
  it('Read and Observe: allowed by an ACL entry or the default ACL, else 4.01', async () => {
    const { a, b, code } = await aclSetup();
    expect(await code(a.read('acl', '/3/0/0'))).toBe('ok');
    expect(await code(b.read('acl', '/3/0/0'))).toBe('4.01');
    expect(await code(b.read('acl', '/3/0'))).toBe('4.01');
    expect(await code(a.read('acl', '/3303/0/5700'))).toBe('ok'); // default ACL
    expect(await code(a.observe('acl', '/3/0/0'))).toBe('ok');
    expect(await code(b.observe('acl', '/3/0/0'))).toBe('4.01');
    expect(await code(b.discover('acl', '/3/0'))).toBe('4.01');
  });

  it('Write and Execute need their bits; the owner without an entry has every right', async () => {
    const { a, b, code, executed, client } = await aclSetup();
    const units = singleResource(5750, 'String', 'hall');
    expect(await code(a.write('acl', '/3303/0/5750', units))).toBe('4.01'); // default ACL: read only
    expect(await code(b.write('acl', '/3303/0/5750', units))).toBe('ok'); // owner
    expect(client.get('/3303/0/5750')).toBe('hall');
    expect(await code(b.execute('acl', '/3/0/4'))).toBe('4.01');
    expect(executed).toEqual([]);
    expect(await code(a.execute('acl', '/3/0/4'))).toBe('ok');
    expect(executed).toEqual(['reboot']);
  });

  it('Create needs the Create bit of the object’s 65535 ACL; the creator owns the new instance', async () => {
    const { a, b, code, client, clock } = await aclSetup();
    const inst = objectInstance(1, [singleResource(5700, 'Float', 3)]);
    expect(await code(b.create('acl', '/3303', inst))).toBe('4.01');
    expect(await code(a.create('acl', '/3303', inst))).toBe('ok');
    expect(client.get('/3303/1/5700')).toBe(3);
    // the new Access Control instance names /3303/1 and is owned by A, with no entries
    const acl = await drive(clock, a.read('acl', '/2/3'));
    expect(
      acl.kind === 'objectInstance' && acl.resources.map((r) => [r.id, 'value' in r ? r.value : undefined]),
    ).toEqual([
      [0, 3303],
      [1, 1],
      [3, 1],
    ]);
    expect(await code(a.read('acl', '/3303/1'))).toBe('ok');
    expect(await code(b.read('acl', '/3303/1'))).toBe('4.01');
  });

  it('Delete needs the Delete bit; the deleted instance’s Access Control goes with it', async () => {
    const { a, code, client } = await aclSetup();
    expect(await code(a.delete('acl', '/3303/0'))).toBe('4.01');
    const inst = objectInstance(1, [singleResource(5700, 'Float', 3)]);
    expect(await code(a.create('acl', '/3303', inst))).toBe('ok');
    expect(await code(a.delete('acl', '/3303/1'))).toBe('ok');
    expect(client.get('/3303/1/5700')).toBeUndefined();
    // the Access Control instance of /3303/1 went with it
    expect(await code(a.read('acl', '/2/3'))).toBe('4.04');
  });

  it('object-level Read and Discover list only the instances the server may read', async () => {
    const { a, b, clock } = await aclSetup();
    const inst = objectInstance(1, [singleResource(5700, 'Float', 3)]);
    await drive(clock, a.create('acl', '/3303', inst));
    const forB = await drive(clock, b.read('acl', '/3303'));
    expect(forB.kind === 'object' && forB.instances.map((i) => i.id)).toEqual([0]);
    const forA = await drive(clock, a.read('acl', '/3303'));
    expect(forA.kind === 'object' && forA.instances.map((i) => i.id)).toEqual([0, 1]);
    const links = await drive(clock, b.discover('acl', '/3303'));
    expect(links.map((l) => l.path.join('/')).filter((p) => p.split('/').length === 2)).toEqual(['3303/0']);
  });

  it('a server always reaches its own Server instance, not another server’s', async () => {
    const { b, code } = await aclSetup();
    expect(await code(b.read('acl', '/1/1'))).toBe('ok');
    expect(await code(b.write('acl', '/1/1/1', singleResource(1, 'Integer', 120)))).toBe('ok');
    expect(await code(b.read('acl', '/1/0'))).toBe('4.01');
  });

  it('Access Control instances are read and written by their owner only', async () => {
    const { a, b, code } = await aclSetup();
    expect(await code(a.read('acl', '/2/0'))).toBe('ok');
    expect(await code(b.read('acl', '/2/0'))).toBe('4.01');
    // B owns /3303/0's ACL and grants A Write on it
    const acl = multipleResource(
      2,
      'Integer',
      [
        [0, 1],
        [1, 3],
      ],
      true,
    );
    expect(await code(a.write('acl', '/2/1/2', acl))).toBe('4.01');
    expect(await code(b.write('acl', '/2/1/2', acl))).toBe('ok');
    expect(await code(a.write('acl', '/3303/0/5750', singleResource(5750, 'String', 'lab')))).toBe('ok');
    // only the Bootstrap-Server creates or deletes them
    expect(await code(b.delete('acl', '/2/1'))).toBe('4.01');
  });

  it('accessControl: false turns it off (one server: off by default, see the other client tests)', async () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({ clock, seed: 3 });
    const b = new Lwm2mServer({
      endpoint: new CoapEndpoint({ transport: network.bind(SERVER_B, 5683), clock, random: seededRandom(1) }),
      clock,
      random: seededRandom(7),
    });
    const client = new Lwm2mClient({
      endpointName: 'open',
      endpoint: new CoapEndpoint({
        transport: network.bind(CLIENT, CLIENT_PORT),
        clock,
        random: seededRandom(2),
      }),
      clock,
      random: seededRandom(9),
      accessControl: false,
      retry: { count: 1, timer: 1, sequenceDelay: 1, sequenceCount: 1 },
    });
    client.addInstance(0, 0, { 0: `coap://${SERVER}:5683`, 1: false, 2: 3, 10: 1 });
    client.addInstance(0, 1, { 0: `coap://${SERVER_B}:5683`, 1: false, 2: 3, 10: 2 });
    client.addInstance(1, 0, { 0: 1, 1: 300, 6: false, 7: 'U' });
    client.addInstance(1, 1, { 0: 2, 1: 300, 6: false, 7: 'U' });
    client.addInstance(3, 0, { 0: 'Thimble' });
    client.start();
    await until(clock, () => client.servers().some((s) => s.shortServerId === 2 && s.state === 'registered'));
    const node = await drive(clock, b.read('open', '/3/0/0'));
    expect(node.kind === 'resource' && node.value).toBe('Thimble');
  });
});

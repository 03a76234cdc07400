import {
  CoapEndpoint,
  type CoapMessage,
  Code,
  FakeClock,
  MemoryNetwork,
  OptionNumber,
  seededRandom,
  utf8Decode,
} from '@thimble/coap-core';
import { Lwm2mClient, parseRegistrationLinks } from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';
import { InstanceStore } from '../../src/client/objects/store.js';
import { uriHostPort } from '../../src/client/registration/servers.js';
import { BUILTIN_OBJECTS } from '../../src/model/builtin.js';
import { ObjectRegistry } from '../../src/model/registry.js';
import { setup, until } from './harness.js';

/** A server at `address` that records every request message and accepts Register / Update / De-register. */
function recordingServer(network: MemoryNetwork, clock: FakeClock, address: string, port = 5683) {
  const messages: CoapMessage[] = [];
  const payloads: string[] = [];
  const ep = new CoapEndpoint({ transport: network.bind(address, port), clock, random: seededRandom(1) });
  let next = 1;
  ep.route('POST', '/rd', (req) => {
    messages.push(req.message);
    payloads.push(utf8Decode(req.payload));
    return {
      code: Code.Created,
      options: [
        { number: OptionNumber.LocationPath, value: 'rd' },
        { number: OptionNumber.LocationPath, value: `r${next++}` },
      ],
    };
  });
  ep.route(['POST', 'DELETE'], '/rd/:id', (req) => {
    messages.push(req.message);
    payloads.push(utf8Decode(req.payload));
    return { code: req.method === Code.DELETE ? Code.Deleted : Code.Changed };
  });
  return { messages, payloads };
}

function device(network: MemoryNetwork, clock: FakeClock, serverUri: string, endpointName: string) {
  const endpoint = new CoapEndpoint({
    transport: network.bind('10.0.0.2', 56830),
    clock,
    random: seededRandom(2),
  });
  const client = new Lwm2mClient({
    endpointName,
    endpoint,
    serverUri,
    lifetime: 300,
    clock,
    random: seededRandom(9),
  });
  client.addInstance(1, 0, { 0: 1, 1: 300, 6: false, 7: 'U' });
  client.addInstance(3, 0, { 0: 'Thimble' });
  return client;
}

const numbers = (m: CoapMessage) => m.options.map((o) => o.number);

describe('Register, Update and De-register requests on the wire (Core §6.2, RFC 7252 §6.4)', () => {
  it('to an IP-literal server URI: Uri-Path and Uri-Query only, the endpoint name unescaped in ep= (RFC 7252 §6.4 step 5)', async () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({ clock, seed: 3 });
    const { messages } = recordingServer(network, clock, '10.0.0.1');
    const client = device(network, clock, 'coap://10.0.0.1:5683', 'dev 1&x=/ü%');
    client.start();
    await until(clock, () => client.registrationState === 'registered');
    const reg = messages[0]!;
    expect(reg.getStrings(OptionNumber.UriPath)).toEqual(['rd']);
    expect(reg.getStrings(OptionNumber.UriQuery)).toEqual(['ep=dev 1&x=/ü%', 'lt=300', 'lwm2m=1.1', 'b=U']);
    expect(numbers(reg)).not.toContain(OptionNumber.UriHost);
    expect(numbers(reg)).not.toContain(OptionNumber.UriPort);
    expect(reg.getUint(OptionNumber.ContentFormat)).toBe(40);
    await client.triggerUpdate();
    expect(messages[1]!.getStrings(OptionNumber.UriPath)).toEqual(['rd', 'r1']);
    expect(messages[1]!.getStrings(OptionNumber.UriQuery)).toEqual([]);
    await client.stop();
    expect(messages[2]!.code).toBe(Code.DELETE);
    expect(messages[2]!.getStrings(OptionNumber.UriPath)).toEqual(['rd', 'r1']);
  });

  it('uriHostPort takes each URI apart, whichever it saw last (it remembers one)', () => {
    const a = uriHostPort('coap://10.0.0.1');
    expect(a).toEqual({ scheme: 'coap', host: '10.0.0.1', port: 5683 });
    expect(uriHostPort('coap://10.0.0.1')).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(uriHostPort('coaps://[::1]')).toEqual({ scheme: 'coaps', host: '::1', port: 5684 });
    expect(uriHostPort('COAP://lwm2m.example:5690/x')).toEqual({
      scheme: 'coap',
      host: 'lwm2m.example',
      port: 5690,
    });
    expect(uriHostPort('coap://10.0.0.1')).toEqual(a);
    expect(() => uriHostPort('http//x')).toThrow(/not a CoAP URI/);
    expect(uriHostPort('coaps://[::1]').port).toBe(5684); // a failed parse leaves the memory alone
  });

  it('to a host-name server URI: Uri-Host is sent as before (RFC 7252 §6.4 step 5)', async () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({ clock, seed: 3 });
    // the memory network resolves a name to itself: the server is bound at that "address"
    const { messages } = recordingServer(network, clock, 'lwm2m.example');
    const client = device(network, clock, 'coap://lwm2m.example:5683', 'dev1');
    client.start();
    await until(clock, () => client.registrationState === 'registered');
    expect(messages[0]!.getStrings(OptionNumber.UriHost)).toEqual(['lwm2m.example']);
    expect(messages[0]!.getStrings(OptionNumber.UriPath)).toEqual(['rd']);
    expect(messages[0]!.getStrings(OptionNumber.UriQuery)[0]).toBe('ep=dev1');
    await client.stop();
    expect(messages[1]!.getStrings(OptionNumber.UriHost)).toEqual(['lwm2m.example']);
  });

  it('to a server URI with a path: the path comes first, as before', async () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({ clock, seed: 3 });
    const messages: CoapMessage[] = [];
    const ep = new CoapEndpoint({
      transport: network.bind('10.0.0.1', 5683),
      clock,
      random: seededRandom(1),
    });
    ep.route('POST', '/lwm2m/rd', (req) => {
      messages.push(req.message);
      return { code: Code.Created, options: [{ number: OptionNumber.LocationPath, value: 'x' }] };
    });
    const client = device(network, clock, 'coap://10.0.0.1:5683/lwm2m', 'dev1');
    client.start();
    await until(clock, () => client.registrationState === 'registered');
    expect(messages[0]!.getStrings(OptionNumber.UriPath)).toEqual(['lwm2m', 'rd']);
    await client.stop({ deregister: false });
  });
});

describe('registration links made once per objects layout (Core §6.2.1)', () => {
  it('a Register after the objects changed carries the new links; one before carries the old', async () => {
    const { clock, server, client } = setup();
    client.start();
    await until(clock, () => client.registrationState === 'registered');
    const first = server.registers()[0]!.payload;
    client.reregister();
    await until(clock, () => server.registers().length === 2 && client.registrationState === 'registered');
    expect(server.registers()[1]!.payload).toBe(first);
    await client.stop({ deregister: false });
    client.removeInstance(3303, 0);
    client.start();
    await until(clock, () => server.registers().length === 3 && client.registrationState === 'registered');
    const paths = parseRegistrationLinks(server.registers()[2]!.payload).objects.map((o) => o.path.join('/'));
    expect(paths).not.toContain('3303/0');
    expect(paths).toContain('3/0');
    expect(client.registrationLinks()).toBe(server.registers()[2]!.payload);
  });

  it('clients with the same model, objects and instances share one links payload; others get their own', () => {
    const clock = new FakeClock();
    const network = new MemoryNetwork({ clock, seed: 3 });
    const model = new ObjectRegistry(BUILTIN_OBJECTS);
    let port = 40000;
    const make = (extra: boolean) => {
      const client = new Lwm2mClient({
        endpointName: `d${port}`,
        endpoint: new CoapEndpoint({ transport: network.bind('10.0.0.2', port++), clock }),
        serverUri: 'coap://10.0.0.1',
        model,
        clock,
      });
      client.addInstance(1, 0, { 0: 1, 1: 300, 6: false, 7: 'U' });
      client.addInstance(3303, 0, {});
      if (extra) client.addInstance(3303, 1, {});
      return client;
    };
    const payload = (c: Lwm2mClient) =>
      (c as unknown as { registrationPayload(v: string): Uint8Array }).registrationPayload('1.2');
    const a = make(false);
    const b = make(false);
    const c = make(true);
    expect(b.registrationLinks()).toBe(a.registrationLinks());
    expect(payload(b)).toBe(payload(a)); // the same bytes, not an equal copy
    const paths = (x: Lwm2mClient) =>
      parseRegistrationLinks(x.registrationLinks()).objects.map((o) => o.path.join('/'));
    expect(paths(a)).toContain('3303/0');
    expect(paths(a)).not.toContain('3303/1');
    expect(paths(c)).toContain('3303/1');
    expect(payload(c)).not.toBe(payload(a));
    // the model gets a newer Temperature object: a new client with the same objects lists the new version
    const temperature = model.getObject(3303)!;
    model.add({ ...temperature, version: '1.9' }, true);
    const d = make(false);
    expect(d.registrationLinks()).toContain('</3303>;ver=1.9');
  });

  it('InstanceStore.shape names the objects and instances by the changes made, while it is short', () => {
    const model = new ObjectRegistry(BUILTIN_OBJECTS);
    const a = new InstanceStore(model);
    const b = new InstanceStore(model);
    for (const s of [a, b]) {
      s.supportObject(3);
      s.add(3303, 0, {});
    }
    expect(a.shape).toBe(b.shape);
    b.add(3303, 1, {});
    expect(b.shape).not.toBe(a.shape);
    b.remove(3303, 1);
    expect(b.shape).not.toBe(a.shape); // the same objects, but the shape is the history
    for (let i = 1; i < 200 && a.shape !== undefined; i++) a.add(3303, i, {});
    expect(a.shape).toBeUndefined();
    const r = a.revision;
    a.add(3303, 500, {});
    expect(a.revision).not.toBe(r);
  });

  it('InstanceStore.instanceIds lists in increasing order and can be iterated while instances go', () => {
    const store = new InstanceStore(new ObjectRegistry(BUILTIN_OBJECTS));
    expect(store.instanceIds(3303)).toEqual([]);
    for (const id of [5, 1, 9, 0, 7]) store.add(3303, id, {});
    const ids = store.instanceIds(3303);
    expect(ids).toEqual([0, 1, 5, 7, 9]);
    for (const id of ids) store.remove(3303, id); // removes every one: the list it iterates stays put
    expect(ids).toEqual([0, 1, 5, 7, 9]);
    expect(store.instanceIds(3303)).toEqual([]);
    store.add(3303, 2, {});
    expect(store.instanceIds(3303)).toEqual([2]);
    expect(store.get(3303, 2)?.id).toBe(2);
  });

  it('InstanceStore.revision changes with every add, remove and newly supported object, and only then', () => {
    const store = new InstanceStore(new ObjectRegistry(BUILTIN_OBJECTS));
    const r0 = store.revision;
    store.add(3303, 0, {});
    const r1 = store.revision;
    expect(r1).not.toBe(r0);
    store.supportObject(3303); // has it already
    expect(store.revision).toBe(r1);
    store.supportObject(3);
    const r2 = store.revision;
    expect(r2).not.toBe(r1);
    expect(store.remove(3303, 5)).toBe(false);
    expect(store.revision).toBe(r2);
    expect(store.remove(3303, 0)).toBe(true);
    expect(store.revision).not.toBe(r2);
  });
});

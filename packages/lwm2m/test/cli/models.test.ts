/**
 * `lwm2m server --models DIR` and `GET /api/objectspecs` (issue 16, item 3): objects outside the built-in
 * model (a vendor object from a DDF folder, the OMA registry's common objects shipped with the package)
 * read and write by type through the REST API, even in TLV (LwM2M 1.0), which carries no types.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUdpEndpoint } from '@thimble/coap-core/node';
import { BUILTIN_OBJECTS, Lwm2mClient, ObjectRegistry, parseObjectDefinitionXml } from '@thimble/lwm2m';
import { loadRegistryModels, registryModelsDirectory } from '@thimble/lwm2m/node';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { capture, waitFor } from './io.js';

const resource = (id: number, name: string, ops: string, type: string) => `
      <Item ID="${id}"><Name>${name}</Name><Operations>${ops}</Operations><MultipleInstances>Single</MultipleInstances>
        <Mandatory>Mandatory</Mandatory><Type>${type}</Type><RangeEnumeration></RangeEnumeration><Units></Units>
        <Description></Description></Item>`;

/** A vendor object as a device maker would publish it (OMA DDF, LwM2M TS Core Appendix D). */
const VENDOR_XML = `<?xml version="1.0" encoding="utf-8"?>
<LWM2M><Object ObjectType="MODefinition">
  <Name>Vendor Meter</Name><Description1>test object</Description1><ObjectID>33001</ObjectID>
  <ObjectURN>urn:oma:lwm2m:x:33001</ObjectURN><LWM2MVersion>1.0</LWM2MVersion><ObjectVersion>1.0</ObjectVersion>
  <MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory>
  <Resources>${resource(0, 'Count', 'R', 'Integer')}${resource(1, 'Level', 'R', 'Float')}${resource(2, 'Label', 'RW', 'String')}
  </Resources><Description2></Description2></Object></LWM2M>`;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('object models of the OMA registry shipped with the package', () => {
  it('parse, and add the objects the built-in model lacks (0–16, 19–28, IPSO 3200–3350)', async () => {
    expect(registryModelsDirectory()).toMatch(/models$/);
    const registry = new ObjectRegistry(BUILTIN_OBJECTS);
    const builtIn = registry.list().length;
    const added = await loadRegistryModels(registry);
    expect(added.length).toBeGreaterThan(20);
    expect(registry.list().length).toBe(builtIn + added.length);
    for (const id of [
      0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 16, 19, 20, 21, 22, 23, 24, 25, 26, 3200, 3340, 3350,
    ])
      expect(registry.has(id), `object ${id}`).toBe(true);
    // built-in definitions win over the registry's
    expect(registry.getObject(3)).toBe(BUILTIN_OBJECTS.find((o) => o.id === 3));
    expect(registry.getResource(3340, 5521)?.type).toBe('Float');
  });
});

describe('lwm2m server --models DIR (LwM2M TS Core Appendix D, DDF)', () => {
  it('reads and writes a vendor object by type over TLV, and lists it in /api/objectspecs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thimble-models-'));
    dirs.push(dir);
    writeFileSync(join(dir, '33001.xml'), VENDOR_XML);
    const c = capture();
    const stop = new AbortController();
    const exit = main(['server', '--coap-port', '0', '--http-port', '0', '--models', dir], c.io, stop.signal);
    const m = await waitFor(
      () => /udp \S+:(\d+), REST API on (http:\/\/\S+)\/api/.exec(c.out()) ?? undefined,
    );
    const api = m[2]!;
    expect(c.out()).toContain('from --models');
    const specs = (await (await fetch(`${api}/api/objectspecs`)).json()) as {
      id: number;
      name: string;
      resources: { id: number; type: string }[];
    }[];
    const vendor = specs.find((o) => o.id === 33001);
    expect(vendor?.name).toBe('Vendor Meter');
    expect(vendor?.resources.map((r) => r.type)).toEqual(['Integer', 'Float', 'String']);
    expect(specs.some((o) => o.id === 3340)).toBe(true);

    // a 1.0 device answers in TLV: only the model gives its values types
    const endpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
    const model = new ObjectRegistry(BUILTIN_OBJECTS);
    for (const d of parseObjectDefinitionXml(VENDOR_XML, '33001.xml')) model.add(d);
    const client = new Lwm2mClient({
      endpointName: 'vendor-dev',
      endpoint,
      model,
      version: '1.0',
      serverUri: `coap://127.0.0.1:${m[1]}`,
      lifetime: 60,
    });
    client.addInstance(1, 0, { 0: 1, 1: 60, 6: false, 7: 'U' });
    client.addInstance(33001, 0, { 0: 7, 1: 2.5, 2: 'a' });
    try {
      client.start();
      await waitFor(() => c.out().includes('registered "vendor-dev"'));
      const read = await fetch(`${api}/api/clients/vendor-dev/33001/0`);
      expect(read.status).toBe(200);
      expect(await read.json()).toEqual({
        kind: 'objectInstance',
        id: 0,
        resources: [
          { kind: 'resource', id: 0, type: 'Integer', value: 7 },
          { kind: 'resource', id: 1, type: 'Float', value: 2.5 },
          { kind: 'resource', id: 2, type: 'String', value: 'a' },
        ],
      });
      // a write needs no type: the model has it
      const put = await fetch(`${api}/api/clients/vendor-dev/33001/0/2`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ value: 'written' }),
      });
      expect(put.status).toBe(204);
      expect(client.get('/33001/0/2')).toBe('written');
      await client.stop();
    } finally {
      await endpoint.close();
      stop.abort();
    }
    expect(await exit).toBe(0);
  });

  it('a DDF file that does not parse stops the server with a message naming it, exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thimble-models-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'broken.xml'), '<LWM2M><Object>');
    const c = capture();
    expect(await main(['server', '--coap-port', '0', '--http-port', '0', '--models', dir], c.io)).toBe(1);
    expect(c.err()).toContain('broken.xml');
  });
});

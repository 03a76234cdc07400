/**
 * Objects outside the server's model, against the Leshan client peer (issue 16, item 3): the peer serves a
 * Temperature object (3303); a Thimble server whose model lacks 3303 stands for a server facing a vendor
 * object. In SenML CBOR (self-describing) the values decode with their own types; in TLV (no types) the
 * read needs the definition, which the OMA registry models shipped with the package give.
 */
import { createUdpEndpoint } from '@thimble/coap-core/node';
import {
  BUILTIN_OBJECTS,
  type Lwm2mNode,
  Lwm2mServer,
  ObjectRegistry,
  type Registration,
} from '@thimble/lwm2m';
import { loadRegistryModels } from '@thimble/lwm2m/node';
import { describe, expect, it } from 'vitest';
import { requireLeshanClientPeer, startLeshanClientPeer } from './leshan-client-peer.js';

const available = requireLeshanClientPeer('Leshan client, objects outside the model');

const resourcesOf = (node: Lwm2mNode) => (node.kind === 'objectInstance' ? node.resources : []);

async function withLeshanClient(
  model: ObjectRegistry,
  endpointName: string,
  run: (server: Lwm2mServer) => Promise<void>,
): Promise<void> {
  const endpoint = await createUdpEndpoint({ address: '127.0.0.1', port: 0 });
  const server = new Lwm2mServer({ endpoint, model });
  const registered = new Promise<Registration>((resolve) =>
    server.on('registered', (r) => {
      if (r.endpoint === endpointName) resolve(r);
    }),
  );
  const peer = startLeshanClientPeer({
    endpoint: endpointName,
    serverUri: `coap://127.0.0.1:${endpoint.transport.local.port}`,
  });
  try {
    await registered;
    await run(server);
  } finally {
    await peer.stop();
    await server.close();
    await endpoint.close();
  }
}

describe.skipIf(!available)('Leshan client objects the server model lacks (LwM2M TS Core 1.1 §7.4)', () => {
  it('SenML CBOR: /3303/0 of the Leshan client reads with the types of its values, without a definition', async () => {
    const model = new ObjectRegistry(BUILTIN_OBJECTS.filter((o) => o.id !== 3303));
    expect(model.has(3303)).toBe(false);
    await withLeshanClient(model, 'leshan-unknown-object', async (server) => {
      const node = await server.read('leshan-unknown-object', '/3303/0', { format: 112, timeout: 5000 });
      const byId = new Map(resourcesOf(node).map((r) => [r.id, r]));
      // 5700 Sensor Value (a number), 5701 Sensor Units (a string)
      const value = byId.get(5700);
      expect(value?.kind).toBe('resource');
      expect(['Integer', 'Float']).toContain(value?.type);
      expect(byId.get(5701)).toMatchObject({ kind: 'resource', type: 'String' });
    });
  }, 90_000);

  it('TLV: the same read works once the OMA registry models give the definition of 3303', async () => {
    const model = new ObjectRegistry(BUILTIN_OBJECTS.filter((o) => o.id !== 3303));
    const added = await loadRegistryModels(model);
    expect(added.some((d) => d.id === 3303)).toBe(true);
    await withLeshanClient(model, 'leshan-registry-object', async (server) => {
      const node = await server.read('leshan-registry-object', '/3303/0', { format: 11542, timeout: 5000 });
      const value = resourcesOf(node).find((r) => r.id === 5700);
      expect(value).toMatchObject({ kind: 'resource', type: 'Float' });
    });
  }, 90_000);
});

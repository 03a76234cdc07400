import { describe, expect, it } from 'vitest';
import { registered } from '../server/harness.js';
import { restSetup } from './harness.js';

type JsonNode = {
  kind: string;
  id: number;
  type?: string;
  value?: unknown;
  resources?: JsonNode[];
  instances?: JsonNode[];
};

const resource = (node: JsonNode, id: number) => node.resources?.find((r) => r.id === id);

describe('REST API: devices (/api/clients)', () => {
  it('lists registered devices and shows one with its observations', async () => {
    const s = await restSetup();
    const list = await s.call({ method: 'GET', url: '/api/clients' });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toEqual([
      expect.objectContaining({
        endpoint: 'dev1',
        version: '1.1',
        binding: 'U',
        lifetime: 300,
        address: '10.0.1.1',
        objects: expect.arrayContaining([{ path: '/3/0' }, { path: '/3303', version: '1.1' }]),
      }),
    ]);
    const one = await s.call({ method: 'GET', url: '/api/clients/dev1' });
    expect(one.json()).toMatchObject({ registration: { endpoint: 'dev1' }, observations: [] });
    const missing = await s.call({ method: 'GET', url: '/api/clients/nobody' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: 'unknown-endpoint' });
  });

  it.each([['tlv'], ['senml-json'], ['senml-cbor'], ['lwm2m-json'], ['11542'], ['112']])(
    'Read /3/0 with ?format=%s gives the device values as JSON nodes',
    async (format) => {
      const s = await restSetup();
      const res = await s.call({ method: 'GET', url: `/api/clients/dev1/3/0?format=${format}` });
      expect(res.statusCode).toBe(200);
      const node = res.json() as JsonNode;
      expect(node).toMatchObject({ kind: 'objectInstance', id: 0 });
      expect(resource(node, 0)).toEqual({ kind: 'resource', id: 0, type: 'String', value: 'Thimble' });
      expect(resource(node, 13)).toEqual({ kind: 'resource', id: 13, type: 'Time', value: 1_700_000_000 });
      expect(resource(node, 11)).toEqual({
        kind: 'multipleResource',
        id: 11,
        type: 'Integer',
        instances: [
          { kind: 'resourceInstance', id: 0, type: 'Integer', value: 0 },
          { kind: 'resourceInstance', id: 1, type: 'Integer', value: 3 },
        ],
      });
    },
  );

  it('Read of a resource as text and of a resource instance', async () => {
    const s = await restSetup();
    const text = await s.call({ method: 'GET', url: '/api/clients/dev1/3303/0/5700?format=text' });
    expect(text.json()).toEqual({ kind: 'resource', id: 5700, type: 'Float', value: 21.5 });
    const ri = await s.call({ method: 'GET', url: '/api/clients/dev1/3/0/11/1' });
    expect(ri.json()).toEqual({ kind: 'resourceInstance', id: 1, type: 'Integer', value: 3 });
    const obj = await s.call({ method: 'GET', url: '/api/clients/dev1/3303' });
    expect(obj.json()).toMatchObject({
      kind: 'object',
      id: 3303,
      instances: [{ kind: 'objectInstance', id: 0 }],
    });
  });

  it('Write (PUT replaces) a resource and an instance, then Read back; PATCH updates part of an instance', async () => {
    const s = await restSetup();
    const put = await s.call({ method: 'PUT', url: '/api/clients/dev1/1/0/6', payload: { value: true } });
    expect(put.statusCode).toBe(204);
    expect(s.client.get('/1/0/6')).toBe(true);
    const tlv = await s.call({
      method: 'PUT',
      url: '/api/clients/dev1/1/0/1?format=tlv',
      payload: { kind: 'resource', id: 1, type: 'Integer', value: 600 },
    });
    expect(tlv.statusCode).toBe(204);
    const back = await s.call({ method: 'GET', url: '/api/clients/dev1/1/0/1?format=senml-json' });
    expect(back.json()).toMatchObject({ value: 600 });
    const patch = await s.call({
      method: 'PATCH',
      url: '/api/clients/dev1/1/0',
      payload: { resources: [{ id: 6, value: false }] },
    });
    expect(patch.statusCode).toBe(204);
    expect(s.client.get('/1/0/6')).toBe(false);
    expect(s.client.get('/1/0/1')).toBe(600);
  });

  it('Execute with text/plain or JSON arguments', async () => {
    const s = await restSetup();
    const calls: string[] = [];
    s.client.removeInstance(3, 0);
    s.client.addInstance(3, 0, { 0: 'Thimble', 4: { execute: (args) => void calls.push(args) } });
    const none = await s.call({ method: 'POST', url: '/api/clients/dev1/3/0/4' });
    expect(none.statusCode).toBe(204);
    const text = await s.call({
      method: 'POST',
      url: '/api/clients/dev1/3/0/4',
      headers: { 'content-type': 'text/plain' },
      payload: "0='now'",
    });
    expect(text.statusCode).toBe(204);
    const json = await s.call({ method: 'POST', url: '/api/clients/dev1/3/0/4', payload: { args: '1' } });
    expect(json.statusCode).toBe(204);
    expect(calls).toEqual(['', "0='now'", '1']);
    const missing = await s.call({ method: 'POST', url: '/api/clients/dev1/3/0/5' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: 'device-error', coapCode: '4.04' });
  });

  it('Create (POST on an object) picks a free instance id, Delete removes the instance', async () => {
    const s = await restSetup();
    const created = await s.call({
      method: 'POST',
      url: '/api/clients/dev1/3303',
      payload: {
        resources: [
          { id: 5700, value: 30 },
          { id: 5701, value: 'Cel' },
        ],
      },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({ path: '/3303/1', instanceId: 1 });
    expect(created.headers.location).toBe('/api/clients/dev1/3303/1');
    expect(s.client.get('/3303/1/5700')).toBe(30);
    const explicit = await s.call({
      method: 'POST',
      url: '/api/clients/dev1/3303',
      payload: { id: 7, resources: [{ id: 5700, value: -4.5 }] },
    });
    expect(explicit.json()).toEqual({ path: '/3303/7', instanceId: 7 });
    const deleted = await s.call({ method: 'DELETE', url: '/api/clients/dev1/3303/1' });
    expect(deleted.statusCode).toBe(204);
    expect(s.client.get('/3303/1/5700')).toBeUndefined();
    const gone = await s.call({ method: 'GET', url: '/api/clients/dev1/3303/1' });
    expect(gone.statusCode).toBe(404);
  });

  it('Discover, Write-Attributes and composite Read / Write', async () => {
    const s = await restSetup();
    const attrs = await s.call({
      method: 'PUT',
      url: '/api/clients/dev1/3303/0/5700/attributes',
      payload: { pmin: 5, pmax: 60, st: 0.5 },
    });
    expect(attrs.statusCode).toBe(204);
    const links = await s.call({ method: 'GET', url: '/api/clients/dev1/3303/0/discover' });
    expect(links.json()).toContainEqual({ path: '/3303/0/5700', attributes: { pmin: 5, pmax: 60, st: 0.5 } });
    const read = await s.call({
      method: 'GET',
      url: '/api/clients/dev1/composite?paths=/3/0/0,/3303/0/5700',
    });
    expect(read.json()).toEqual([
      { path: '/3/0/0', node: { kind: 'resource', id: 0, type: 'String', value: 'Thimble' } },
      { path: '/3303/0/5700', node: { kind: 'resource', id: 5700, type: 'Float', value: 21.5 } },
    ]);
    const write = await s.call({
      method: 'PUT',
      url: '/api/clients/dev1/composite',
      payload: [{ path: '/1/0/6', node: { value: true } }],
    });
    expect(write.statusCode).toBe(204);
    expect(s.client.get('/1/0/6')).toBe(true);
  });

  it('Observe: the current value in the answer, a second POST reuses it, DELETE cancels', async () => {
    const s = await restSetup();
    const first = await s.call({ method: 'POST', url: '/api/clients/dev1/3303/0/5700/observe' });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({
      endpoint: 'dev1',
      path: '/3303/0/5700',
      node: { kind: 'resource', id: 5700, type: 'Float', value: 21.5 },
    });
    s.client.set('/3303/0/5700', 25);
    await s.clock.advance(100);
    const again = await s.call({ method: 'POST', url: '/api/clients/dev1/3303/0/5700/observe' });
    expect(again.json()).toMatchObject({ node: { value: 25 } });
    expect(s.server.observationsOf('dev1')).toHaveLength(1);
    const shown = await s.call({ method: 'GET', url: '/api/clients/dev1' });
    expect(shown.json().observations).toEqual(['/3303/0/5700']);
    const cancel = await s.call({ method: 'DELETE', url: '/api/clients/dev1/3303/0/5700/observe' });
    expect(cancel.json()).toEqual({ cancelled: 1 });
    const none = await s.call({ method: 'DELETE', url: '/api/clients/dev1/3303/0/5700/observe' });
    expect(none.statusCode).toBe(404);
    expect(none.json()).toMatchObject({ error: 'not-observed' });
  });
});

describe('REST API: errors', () => {
  it('404 for an unknown endpoint on every kind of operation, and for an unknown route', async () => {
    const s = await restSetup();
    for (const [method, url, payload] of [
      ['GET', '/api/clients/ghost/3/0', undefined],
      ['PUT', '/api/clients/ghost/1/0/6', { value: true }],
      ['POST', '/api/clients/ghost/3/0/4', undefined],
      ['DELETE', '/api/clients/ghost/3303/0', undefined],
      ['POST', '/api/clients/ghost/3/0/observe', undefined],
      ['DELETE', '/api/clients/ghost/3/0/observe', undefined],
    ] as const) {
      const res = await s.call({ method, url, ...(payload === undefined ? {} : { payload }) });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json()).toMatchObject({
        error: 'unknown-endpoint',
        message: expect.stringContaining('ghost'),
      });
    }
    const route = await s.call({ method: 'GET', url: '/api/nothing' });
    expect(route.statusCode).toBe(404);
    expect(route.json()).toEqual({ error: 'not-found', message: 'no route GET /api/nothing' });
  });

  it('504 when the device does not answer in ?timeout= seconds', async () => {
    const s = await restSetup();
    s.network.conditions = { loss: 1 };
    const t0 = s.clock.now();
    const res = await s.call({ method: 'GET', url: '/api/clients/dev1/3/0?timeout=3' });
    expect(res.statusCode).toBe(504);
    expect(res.json()).toMatchObject({ error: 'timeout' });
    expect(s.clock.now() - t0).toBeLessThan(10_000);
  });

  it('the device’s CoAP error codes map to HTTP with the CoAP code in the body', async () => {
    const s = await restSetup();
    const notFound = await s.call({ method: 'GET', url: '/api/clients/dev1/3/9' });
    expect(notFound.statusCode).toBe(404);
    expect(notFound.json()).toMatchObject({ error: 'device-error', coapCode: '4.04' });
    // the model says /3/0/0 is read-only: the client refuses the write with 4.05
    const readOnly = await s.call({ method: 'PUT', url: '/api/clients/dev1/3/0/0', payload: { value: 'x' } });
    expect(readOnly.statusCode).toBe(405);
    expect(readOnly.json()).toMatchObject({ error: 'device-error', coapCode: '4.05' });
  });

  it('400 with a message for input the schemas or the node format refuse (415 for a body type no route takes)', async () => {
    const s = await restSetup();
    const cases: [string, string, unknown, RegExp][] = [
      ['GET', '/api/clients/dev1/3/zero', undefined, /instanceId must be integer/],
      ['GET', '/api/clients/dev1/3/70000', undefined, /instanceId must be <= 65534/],
      ['GET', '/api/clients/dev1/3/0?format=xml', undefined, /format must match/],
      ['GET', '/api/clients/dev1/3/0?timeout=-1', undefined, /timeout must be > 0/],
      ['PUT', '/api/clients/dev1/1/0/1', undefined, /body/],
      ['PUT', '/api/clients/dev1/1/0/1', { value: 600, colour: 'red' }, /additional properties/],
      ['PUT', '/api/clients/dev1/1/0/1', { value: 'soon' }, /\/1\/0\/1: "soon" is not an integer/],
      ['PUT', '/api/clients/dev1/1/0/1', { id: 2, value: 1 }, /id 2 does not match the path/],
      ['PUT', '/api/clients/dev1/1/0/1', { kind: 'objectInstance', resources: [] }, /does not fit this path/],
      ['PUT', '/api/clients/dev1/1/0/6', { value: 1 }, /Boolean expects a boolean/],
      ['PUT', '/api/clients/dev1/77/0/1', { value: 1 }, /type is needed/],
      [
        'PUT',
        '/api/clients/dev1/3303/0',
        {
          resources: [
            { id: 5700, value: 1 },
            { id: 5700, value: 2 },
          ],
        },
        /given twice/,
      ],
      ['PUT', '/api/clients/dev1/3303/0/5700/attributes', {}, /fewer than 1 properties/],
      ['GET', '/api/clients/dev1/composite?paths=/3/x', undefined, /path "\/3\/x"/],
    ];
    for (const [method, url, payload, message] of cases) {
      const res = await s.call({
        method: method as 'GET',
        url,
        ...(payload === undefined ? {} : { payload: payload as object }),
      });
      expect(res.statusCode, `${method} ${url} ${JSON.stringify(payload)}`).toBe(400);
      expect(res.json().error).toBe('bad-request');
      expect(res.json().message).toMatch(message);
    }
    const octets = await s.call({
      method: 'POST',
      url: '/api/clients/dev1/3/0/4',
      headers: { 'content-type': 'application/octet-stream' },
      payload: Buffer.from('1'),
    });
    expect(octets.statusCode).toBe(415);
    expect(octets.json().error).toBe('unsupported-media-type');
    const head = await s.call({ method: 'HEAD', url: '/api/clients/dev1/3/0' });
    expect(head.statusCode).toBe(404);
    const malformed = await s.call({
      method: 'PUT',
      url: '/api/clients/dev1/1/0/1',
      headers: { 'content-type': 'application/json' },
      payload: '{"value": ',
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error).toBe('bad-request');
  });
});

describe('REST API: bearer token', () => {
  it('401 without the token or with a wrong one, on every /api route', async () => {
    const s = await restSetup({ token: 's3cret' });
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 'Basic s3cret' }]) {
      const res = await s.call({ method: 'GET', url: '/api/clients', headers });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.json()).toEqual({ error: 'unauthorized', message: 'a bearer token is needed' });
    }
    expect((await s.call({ method: 'GET', url: '/api/openapi.json' })).statusCode).toBe(401);
    expect((await s.call({ method: 'GET', url: '/api/events' })).statusCode).toBe(401);
    const ok = await s.call({
      method: 'GET',
      url: '/api/clients',
      headers: { authorization: 'Bearer s3cret' },
    });
    expect(ok.statusCode).toBe(200);
  });
});

describe('REST API: OpenAPI document', () => {
  it('lists every route Fastify serves, with its methods, and the shared schemas', async () => {
    const s = await restSetup();
    const doc = (await s.call({ method: 'GET', url: '/api/openapi.json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    const listed = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    // the routes as Fastify has them, from its route tree (HEAD is Fastify's own companion of GET)
    const served: string[] = [];
    const stack: string[] = [];
    for (const line of s.app.printRoutes({ commonPrefix: false }).split('\n')) {
      const m = /^([│ ]*)[├└]── (\S+) \(([^)]+)\)/.exec(line);
      if (m === null) continue;
      const depth = m[1]!.length / 4;
      stack[depth] = `${depth === 0 ? '' : stack[depth - 1]}${m[2]}`;
      const path = stack[depth]!.replace(/:(\w+)/g, '{$1}');
      for (const method of m[3]!.split(', ')) if (method !== 'HEAD') served.push(`${method} ${path}`);
    }
    expect(served.length).toBeGreaterThan(40);
    expect(listed.sort()).toEqual(served.sort());
    for (const expected of [
      'GET /api/clients/{endpoint}/{objectId}/{instanceId}/{resourceId}/{resourceInstanceId}',
      'PATCH /api/clients/{endpoint}/{objectId}/{instanceId}',
      'POST /api/clients/{endpoint}/{objectId}/{instanceId}/{resourceId}/observe',
      'POST /api/firmware/campaigns',
      'PUT /api/security/{endpoint}',
      'PUT /api/bootstrap/{endpoint}',
      'GET /api/events',
    ])
      expect(listed).toContain(expected);
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining([
        'Error',
        'Lwm2mNode',
        'Registration',
        'Campaign',
        'EndpointCredentials',
        'BootstrapConfig',
      ]),
    );
    const read = doc.paths['/api/clients/{endpoint}/{objectId}/{instanceId}'].get;
    expect(read.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['endpoint', 'objectId', 'instanceId', 'format', 'timeout']),
    );
  });
});

describe('REST API: GET /api/clients pages (issue 17, item 6)', () => {
  it('limit, cursor and prefix; the next cursor in x-next-cursor and Link rel="next" (RFC 8288)', async () => {
    const s = await restSetup();
    for (const n of [2, 3, 4]) await registered(s, s.device(n));
    const names = (body: unknown) => (body as { endpoint: string }[]).map((r) => r.endpoint);
    const first = await s.call({ method: 'GET', url: '/api/clients?limit=3' });
    expect(first.statusCode).toBe(200);
    expect(names(first.json())).toEqual(['dev1', 'dev2', 'dev3']);
    expect(first.headers['x-next-cursor']).toBe('dev3');
    expect(first.headers.link).toBe('</api/clients?limit=3&cursor=dev3>; rel="next"');
    const last = await s.call({ method: 'GET', url: '/api/clients?limit=3&cursor=dev3' });
    expect(names(last.json())).toEqual(['dev4']);
    expect(last.headers['x-next-cursor']).toBeUndefined();
    expect(last.headers.link).toBeUndefined();
    const prefixed = await s.call({ method: 'GET', url: '/api/clients?prefix=dev2' });
    expect(names(prefixed.json())).toEqual(['dev2']);
    const all = await s.call({ method: 'GET', url: '/api/clients' });
    expect(names(all.json())).toEqual(['dev1', 'dev2', 'dev3', 'dev4']);
    for (const bad of ['limit=0', 'limit=x', 'limit=100000', 'page=2']) {
      const r = await s.call({ method: 'GET', url: `/api/clients?${bad}` });
      expect(r.statusCode, bad).toBe(400);
    }
  });
});

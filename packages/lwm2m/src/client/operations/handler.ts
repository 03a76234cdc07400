/**
 * The Device Management and Service Enablement interface, client side (LwM2M TS Core 1.1 §6.3, TS
 * Transport 1.1 §6.3): the routes on the client's endpoints, the dispatch of each request to its
 * operation (Read, Write, Execute, Create, Delete, Discover, Write-Attributes, Read-/Write-Composite,
 * Observe through `observe/`), Access Control (Core §7.3.2) and streamed Block1 writes.
 */
import {
  type CoapEndpoint,
  type CoapRequest,
  CoapStatusError,
  Code,
  ContentFormat,
  formatCode,
  OptionNumber,
  type Peer,
  type ResponseInit,
  utf8Encode,
} from '@thimble/coap-core';
import { OSCORE_KIND } from '@thimble/oscore';
import {
  decodeComposite,
  decodeCompositePaths,
  decodeNode,
  encodeComposite,
  encodeNode,
} from '../../content/codecs.js';
import { Lwm2mContentError } from '../../content/errors.js';
import { formatDiscover, type Lwm2mLink } from '../../content/link-format.js';
import type { Lwm2mCompositeEntry } from '../../content/senml.js';
import { isExecutable, isWritable, type ResourceDefinition } from '../../model/definitions.js';
import type { Lwm2mNode, ObjectInstanceNode, ResourceInstanceNode } from '../../model/nodes.js';
import { isValidId, type Lwm2mPath, Lwm2mPathError, parseLwm2mPath } from '../../model/path.js';
import { type Lwm2mValue, Lwm2mValueError } from '../../model/values.js';
import type { ClientBootstrap } from '../bootstrap/bootstrap.js';
import type { ClientContext } from '../context.js';
import { codeFromText, fail, Lwm2mClientError } from '../errors.js';
import {
  type AccessOperation,
  aclAfterCreate,
  aclAfterDelete,
  checkAccess,
  mayRead,
} from '../objects/access-control.js';
import { applyAttributeQuery } from '../objects/attributes.js';
import { compositeKey, notified } from '../objects/composite.js';
import { isPromise } from '../objects/reader.js';
import {
  type InstanceEntry,
  pathText,
  type ResourceValue,
  toResourceValue,
  valueOfNode,
} from '../objects/store.js';
import { type NotificationEngine, observationKey, type Via } from '../observe/engine.js';
import type { ServerConnection } from '../registration/servers.js';
import type { ResourceStream } from '../types.js';

const SENML_CBOR = 112;
const TLV = 11542;
const LINK_FORMAT = 40;

export class DeviceManagementHandler {
  /** Endpoints whose routes lead to this client. */
  private readonly routed: CoapEndpoint[] = [];
  /** Paths (`5/0/0`) whose Block1 writes are streamed (see `streamWrites`). */
  private readonly streams: { [path: string]: ResourceStream | undefined } = {};

  constructor(
    private readonly ctx: ClientContext,
    private readonly observe: NotificationEngine,
    private readonly bootstrapper: ClientBootstrap,
  ) {}

  /** Installs the device-management routes on an endpoint (once). */
  route(ep: CoapEndpoint): void {
    if (this.routed.indexOf(ep) >= 0) return;
    this.routed.push(ep);
    this.installRoutes(ep);
  }

  /** An endpoint the client closes: no notification goes to it any more. */
  unroute(ep: CoapEndpoint): void {
    const i = this.routed.indexOf(ep);
    if (i >= 0) this.routed.splice(i, 1);
  }

  /**
   * Streams Block1 writes of the resource at `path` (`/o/i/r`, an Opaque writable resource) to `stream`
   * block by block (RFC 7959 §2.5) instead of reassembling them. A write that fits one datagram still
   * reaches the resource's `write` callback whole. Streamed blocks must be `application/octet-stream`
   * (or carry no Content-Format); others get 4.15.
   */
  streamWrites(path: string | Lwm2mPath, stream: ResourceStream): this {
    const p = typeof path === 'string' ? parseLwm2mPath(path) : path;
    if (p.length !== 3)
      throw new Lwm2mClientError('bad-request', '4.00', `streamWrites needs /o/i/r, got ${pathText(p)}`);
    const def = this.ctx.model.getResource(p[0]!, p[2]!);
    if (def === undefined || !isWritable(def) || def.type !== 'Opaque' || def.multiple)
      throw new Lwm2mClientError(
        'bad-request',
        '4.00',
        `${pathText(p)} is not a single writable Opaque resource`,
      );
    const key = p.join('/');
    const fresh = this.streams[key] === undefined;
    this.streams[key] = stream;
    if (!fresh) return this;
    for (const ep of this.routed) this.routeStream(ep, p);
    return this;
  }

  /** The routes of one streamed resource on one endpoint (see `streamWrites`). */
  private routeStream(ep: CoapEndpoint, p: Lwm2mPath): void {
    // a literal route wins over /:o/:i/:r for this one path (PUT / POST stream, the rest as usual)
    const key = p.join('/');
    const handler = (req: CoapRequest) => this.handle(req, ep);
    ep.route(['GET', 'DELETE'], `/${key}`, handler, { observable: true });
    ep.route(['PUT', 'POST'], `/${key}`, handler, {
      blockSink: (req, chunk, offset, more) => this.streamBlock(req, p, chunk, offset, more),
    });
  }

  private streamBlock(
    req: CoapRequest,
    path: Lwm2mPath,
    chunk: Uint8Array,
    offset: number,
    more: boolean,
  ): void | Promise<void> {
    this.ctx.activity();
    const refuse = (e: unknown): never => {
      const r = errorResponse(e);
      this.ctx.emit('operation', {
        operation: 'Write',
        path: pathText(path),
        code: formatCode(r.code),
        detail: e instanceof Error ? e.message : String(e),
      });
      throw new CoapStatusError(r.code, e instanceof Error ? e.message : String(e));
    };
    try {
      const stream = this.streams[path.join('/')];
      if (stream === undefined) fail('not-found', '4.04', `${pathText(path)} not found`);
      this.ctx.reader.instanceOrFail(path);
      const format = req.contentFormat;
      if (format !== undefined && format !== ContentFormat.OctetStream)
        fail('unsupported-format', '4.15', 'a streamed write must be application/octet-stream');
      const r = stream.block(chunk, offset, more, {
        method: req.method === Code.POST ? 'POST' : 'PUT',
        contentFormat: format,
        size: req.message.getUint(OptionNumber.Size1),
        peer: req.peer,
      });
      if (isPromise(r)) return r.then(undefined, refuse);
    } catch (e) {
      refuse(e);
    }
  }

  private installRoutes(ep: CoapEndpoint): void {
    const handler = (req: CoapRequest) => this.handle(req, ep);
    // observable for Observe-Composite (FETCH with Observe, Transport §6.4)
    ep.route(['FETCH', 'iPATCH', 'GET', 'PUT', 'POST', 'DELETE'], '/', handler, { observable: true });
    // Bootstrap-Finish (Core §6.1, Transport §6.1); the other bootstrap operations come through handle()
    ep.route('POST', '/bs', (req) => this.bootstrapper.finish(req));
    ep.route(['GET', 'PUT', 'POST', 'DELETE'], '/:o', handler, { observable: true });
    ep.route(['GET', 'PUT', 'POST', 'DELETE'], '/:o/:i', handler, { observable: true });
    ep.route(['GET', 'PUT', 'POST', 'DELETE'], '/:o/:i/:r', handler, { observable: true });
    ep.route(['GET', 'PUT', 'POST', 'DELETE'], '/:o/:i/:r/:ri', handler, { observable: true });
    for (const key in this.streams)
      if (this.streams[key] !== undefined) this.routeStream(ep, parseLwm2mPath(key));
  }

  /**
   * The server a request comes from: the one whose own endpoint (DTLS session, OSCORE context) it came on,
   * or on a shared endpoint the one at the peer's address. Undefined for an unknown peer.
   */
  private connectionFor(ep: CoapEndpoint, peer: Peer): ServerConnection | undefined {
    let match: ServerConnection | undefined;
    for (const c of this.ctx.connections) {
      if (c.endpoint !== ep) continue;
      if (c.ownsEndpoint || c.isPeer(peer)) {
        if (match !== undefined) return c.isPeer(peer) ? c : match;
        match = c;
      }
    }
    return match;
  }

  private handle(req: CoapRequest, ep: CoapEndpoint): Promise<ResponseInit> {
    const bootstrap = this.bootstrapper.intercept(req);
    if (bootstrap !== undefined) return bootstrap;
    let op = 'request';
    let path: Lwm2mPath = [];
    const notification = this.observe.isNotification(req);
    // the server the request comes from (authenticated by its DTLS session or OSCORE context)
    const conn = this.connectionFor(ep, req.peer);
    const ssid = conn?.shortServerId;
    const acl = this.ctx.accessControlActive();
    const via: Via = {
      endpoint: ep,
      shortServerId: ssid,
      mayRead: acl ? (oid, iid) => mayRead(this.ctx.objects, ssid, oid, iid) : undefined,
      mayWrite: acl ? (oid, iid) => checkAccess(this.ctx.objects, ssid, 'write', oid, iid) : undefined,
    };
    /** Access Control (Core §7.3.2) of an operation on /o or /o/i (a missing instance answers 4.04 later). */
    const guard = (operation: AccessOperation): void => {
      if (!acl || path.length === 0) return;
      const iid = path.length >= 2 ? path[1]! : undefined;
      if (iid !== undefined && this.ctx.objects.get(path[0]!, iid) === undefined) return;
      checkAccess(this.ctx.objects, ssid, operation, path[0]!, iid);
    };
    const run = async (): Promise<ResponseInit> => {
      path = parseRequestPath(req.path);
      // Core §E.1 / §6.3: the Security (0) and OSCORE (21) objects belong to the Bootstrap interface
      if (path.length > 0 && (path[0] === 0 || path[0] === 21))
        fail('not-allowed', '4.01', 'Security objects are not accessible');
      // a server set up with OSCORE is only heard through it (RFC 8613 §8.2: unprotected → unauthorized)
      if (conn?.account.oscore !== undefined && req.security?.kind !== OSCORE_KIND)
        fail('not-allowed', '4.01', 'this server must use OSCORE');
      switch (req.method) {
        case Code.GET:
          if (req.accept === LINK_FORMAT) {
            op = 'Discover';
            if (path.length >= 2) guard('read');
            return this.discover(path, via);
          }
          op = readOperation(notification, req.observe, '');
          if (path.length >= 2) guard('read');
          return this.read(req, path, notification, via);
        case Code.PUT:
          if (req.payload.length === 0 && req.query.length > 0) {
            op = 'Write-Attributes';
            guard('read');
            return this.writeAttributes(req, path);
          }
          op = 'Write';
          guard('write');
          return this.write(req, path, true);
        case Code.POST:
          if (path.length === 1) {
            op = 'Create';
            guard('create');
            const created = await this.create(req, path);
            // the creating server owns the new instance's Access Control (Core §7.3.2)
            if (acl && ssid !== undefined)
              aclAfterCreate(this.ctx.objects, ssid, path[0]!, createdId(created));
            return created;
          }
          if (path.length === 3) {
            const def = this.ctx.model.getResource(path[0]!, path[2]!);
            if (def !== undefined && isExecutable(def)) {
              op = 'Execute';
              guard('execute');
              return this.execute(req, path, def, conn);
            }
          }
          op = 'Write';
          guard('write');
          return this.write(req, path, false);
        case Code.DELETE:
          op = 'Delete';
          guard('delete');
          return this.delete(path);
        case Code.FETCH:
          op = readOperation(notification, req.observe, '-Composite');
          return this.readComposite(req, via, notification);
        case Code.iPATCH:
          op = 'Write-Composite';
          return this.writeComposite(req, via);
      }
      return fail('not-allowed', '4.05', 'method not allowed');
    };
    if (!notification) this.ctx.activity();
    return run().then(
      (r) => {
        this.ctx.emit('operation', { operation: op, path: pathText(path), code: formatCode(r.code) });
        return r;
      },
      (e: unknown) => {
        const r = errorResponse(e);
        this.ctx.emit('operation', {
          operation: op,
          path: req.path.length === 0 ? '/' : `/${req.path.join('/')}`,
          code: formatCode(r.code),
          detail: e instanceof Error ? e.message : String(e),
        });
        return r;
      },
    );
  }

  /**
   * Format for a response: the Accept option, else TLV for 1.0 and SenML CBOR from 1.1 (Core §7.4), by the
   * version registered with the requesting server.
   */
  private responseFormat(req: CoapRequest, via: Via): number {
    if (req.accept !== undefined) return req.accept;
    let version = this.ctx.version;
    for (const c of this.ctx.connections) if (c.shortServerId === via.shortServerId) version = c.version;
    return version === '1.0' ? TLV : SENML_CBOR;
  }

  private async read(
    req: CoapRequest,
    path: Lwm2mPath,
    notification: boolean,
    via: Via,
  ): Promise<ResponseInit> {
    if (path.length === 0) fail('not-allowed', '4.05', 'Read on / is not an LwM2M operation');
    const node = await this.ctx.reader.readNode(path, via.mayRead);
    const format = this.responseFormat(req, via);
    const payload = encodeNode(format, path, node, this.ctx.model);
    if (!notification) {
      if (req.observe === 0) this.observe.add(req, path, node, via);
      else if (req.observe === 1) this.observe.remove(observationKey(req, path));
    } else {
      const o = this.observe.find(observationKey(req, path));
      if (
        o !== undefined &&
        (node.kind === 'resource' || node.kind === 'resourceInstance') &&
        typeof node.value === 'number'
      )
        o.lastValue = node.value;
    }
    return { code: Code.Content, contentFormat: format, payload };
  }

  /**
   * Write (Core §6.3.3, Transport §6.3): PUT on an instance replaces it, POST updates it partially; PUT on a
   * resource replaces it; POST on a multiple resource adds or replaces resource instances; PUT on a
   * resource instance (1.1) replaces it.
   */
  private async write(req: CoapRequest, path: Lwm2mPath, replace: boolean): Promise<ResponseInit> {
    if (path.length < 2) fail('not-allowed', '4.05', `Write on ${pathText(path)} is not allowed`);
    const entry = this.ctx.reader.instanceOrFail(path);
    // the blocks of a streamed write went to the resource's stream: the last one arrived and was taken
    if (req.message.hasOption(OptionNumber.Block1) && this.streams[path.join('/')] !== undefined)
      return { code: Code.Changed };
    const format = req.contentFormat;
    if (format === undefined) fail('bad-request', '4.00', 'Write without Content-Format');
    if (req.payload.length === 0) fail('bad-request', '4.00', 'Write without payload');
    const oid = path[0]!;
    if (path.length === 2) {
      const node = decodeNode(format, path, req.payload, this.ctx.model);
      if (node.kind !== 'objectInstance') fail('bad-request', '4.00', 'payload is not an object instance');
      // check everything before changing anything (a Write is all or nothing)
      for (const r of node.resources) {
        const def = this.ctx.model.getResource(oid, r.id);
        if (def === undefined) fail('not-found', '4.04', `${pathText([oid, path[1]!, r.id])} not found`);
        if (!isWritable(def))
          fail('not-allowed', '4.05', `${pathText([oid, path[1]!, r.id])} is not writable`);
      }
      if (replace) {
        // Replace: optional writable resources missing from the payload are removed (Core §6.3.3)
        for (const rid of this.ctx.objects.resourceIds(entry)) {
          const def = this.ctx.model.getResource(oid, rid);
          const slot = entry.slots[rid]!;
          if (def === undefined || def.mandatory || !isWritable(def) || slot.handler !== undefined) continue;
          if (!node.resources.some((r) => r.id === rid)) delete entry.slots[rid];
        }
      }
      for (const r of node.resources) {
        const def = this.ctx.model.getResource(oid, r.id)!;
        await this.applyWrite(entry, [oid, path[1]!, r.id], def, valueOfNode(r));
      }
      return { code: Code.Changed };
    }
    const def = this.ctx.model.getResource(oid, path[2]!);
    if (def === undefined) fail('not-found', '4.04', `${pathText(path)} not found`);
    if (!isWritable(def)) fail('not-allowed', '4.05', `${pathText(path)} is not writable`);
    const node = decodeNode(format, path, req.payload, this.ctx.model);
    const rpath: Lwm2mPath = [oid, path[1]!, path[2]!];
    if (path.length === 3) {
      let value = valueOfNode(node);
      if (!replace) {
        // POST on a multiple resource: a partial update of its instances
        if (!def.multiple || !Array.isArray(value))
          fail('not-allowed', '4.05', `POST on ${pathText(path)} is not allowed`);
        value = mergeInstances(entry.slots[path[2]!]?.value, value as ResourceInstanceNode[]);
      }
      await this.applyWrite(entry, rpath, def, value);
      return { code: Code.Changed };
    }
    if (!def.multiple || !replace) fail('not-allowed', '4.05', `Write on ${pathText(path)} is not allowed`);
    if (node.kind !== 'resourceInstance') fail('bad-request', '4.00', 'payload is not a resource instance');
    await this.applyWrite(entry, rpath, def, mergeInstances(entry.slots[path[2]!]?.value, [node]));
    return { code: Code.Changed };
  }

  private async applyWrite(
    entry: InstanceEntry,
    path: Lwm2mPath,
    def: ResourceDefinition,
    value: Lwm2mValue | ResourceInstanceNode[],
  ): Promise<void> {
    let slot = entry.slots[def.id];
    if (slot === undefined) {
      slot = { value: undefined, handler: undefined };
      entry.slots[def.id] = slot;
    }
    const write = slot.handler?.write;
    if (write !== undefined) {
      try {
        const r = write(toResourceValue(value));
        if (isPromise(r)) await r;
      } catch (e) {
        if (e instanceof Lwm2mClientError) throw e;
        throw new Lwm2mClientError(
          'application',
          '5.00',
          `write ${def.name}: ${(e as Error)?.message ?? String(e)}`,
        );
      }
    }
    slot.value = value;
    this.ctx.emit('changed', path);
    this.observe.valueChanged(path, typeof value === 'number' ? value : undefined);
    // a new lifetime or binding goes to the server in an Update (Core §6.2.2)
    if (path[0] === 1 && (def.id === 1 || def.id === 7))
      for (const c of this.ctx.connections)
        if (c.account.serverInstanceId === path[1]) void c.triggerUpdate();
  }

  /** Execute (Core §6.3.5): POST on an Executable resource, the payload being the arguments text. */
  private async execute(
    req: CoapRequest,
    path: Lwm2mPath,
    def: ResourceDefinition,
    from?: ServerConnection,
  ): Promise<ResponseInit> {
    const entry = this.ctx.reader.instanceOrFail(path);
    const args = req.text();
    const slot = entry.slots[def.id];
    const exec = slot?.handler?.execute;
    if (exec === undefined) {
      // Registration Update Trigger (/1/x/8) is the client's own business
      if (path[0] === 1 && def.id === 8) {
        // the Update goes to the server whose Server instance this is (else the requester)
        let target = from;
        for (const c of this.ctx.connections) if (c.account.serverInstanceId === path[1]) target = c;
        if (target !== undefined) void target.triggerUpdate();
        return { code: Code.Changed };
      }
      // Bootstrap-Request Trigger (/1/x/9): answer first, then bootstrap
      if (path[0] === 1 && def.id === 9 && this.bootstrapper.possible()) {
        this.ctx.clock.setTimeout(
          () => void this.ctx.bootstrap().catch((e: Error) => this.ctx.emit('error', e)),
          0,
        );
        return { code: Code.Changed };
      }
      fail('not-found', '4.04', `${pathText(path)} is not implemented`);
    }
    try {
      const r = exec(args);
      if (isPromise(r)) await r;
    } catch (e) {
      if (e instanceof Lwm2mClientError) throw e;
      throw new Lwm2mClientError(
        'application',
        '5.00',
        `execute ${def.name}: ${(e as Error)?.message ?? String(e)}`,
      );
    }
    return { code: Code.Changed };
  }

  /** Create (Core §6.3.7): POST /o with the new instance; 2.01 with its Location-Path. */
  private async create(req: CoapRequest, path: Lwm2mPath): Promise<ResponseInit> {
    const oid = path[0]!;
    const objectDef = this.ctx.model.getObject(oid);
    if (objectDef === undefined || !this.ctx.objects.hasObject(oid))
      fail('not-found', '4.04', `object ${oid} not found`);
    const format = req.contentFormat;
    if (format === undefined) fail('bad-request', '4.00', 'Create without Content-Format');
    let instance: ObjectInstanceNode;
    let node: Lwm2mNode | undefined;
    try {
      node = decodeNode(format, path, req.payload, this.ctx.model);
    } catch (e) {
      // LwM2M 1.0 TLV may carry the resources without an instance (the client picks the id)
      if (!(e instanceof Lwm2mContentError) || format !== TLV) throw e;
    }
    if (node === undefined) {
      const n = decodeNode(format, [oid, this.ctx.objects.freeInstanceId(oid)], req.payload, this.ctx.model);
      if (n.kind !== 'objectInstance') fail('bad-request', '4.00', 'payload is not an object instance');
      instance = n;
    } else if (node.kind === 'object') {
      if (node.instances.length !== 1) fail('bad-request', '4.00', 'Create takes exactly one instance');
      instance = node.instances[0]!;
    } else if (node.kind === 'objectInstance') {
      instance = node;
    } else {
      return fail('bad-request', '4.00', 'payload is not an object instance');
    }
    if (this.ctx.objects.get(oid, instance.id) !== undefined)
      fail('bad-request', '4.00', `/${oid}/${instance.id} exists already`);
    if (!objectDef.multiple && this.ctx.objects.instanceIds(oid).length > 0)
      fail('bad-request', '4.00', `object ${oid} is single-instance`);
    const resources: { [rid: number]: ResourceValue } = {};
    for (const r of instance.resources) {
      const def = this.ctx.model.getResource(oid, r.id);
      if (def === undefined) fail('not-found', '4.04', `/${oid}/${instance.id}/${r.id} not found`);
      if (isExecutable(def)) fail('bad-request', '4.00', `/${oid}/${instance.id}/${r.id} is executable`);
      resources[r.id] = toResourceValue(valueOfNode(r));
    }
    this.ctx.objects.add(oid, instance.id, resources);
    this.ctx.emit('changed', [oid, instance.id]);
    this.observe.valueChanged([oid], undefined);
    this.ctx.objectsDidChange();
    return {
      code: Code.Created,
      options: [
        { number: OptionNumber.LocationPath, value: String(oid) },
        { number: OptionNumber.LocationPath, value: String(instance.id) },
      ],
    };
  }

  /** Delete (Core §6.3.8): DELETE /o/i. Device (3) and Server (1) instances stay. */
  private async delete(path: Lwm2mPath): Promise<ResponseInit> {
    if (path.length !== 2) fail('not-allowed', '4.05', `Delete on ${pathText(path)} is not allowed`);
    if (path[0] === 1 || path[0] === 3) fail('not-allowed', '4.05', `${pathText(path)} cannot be deleted`);
    this.ctx.reader.instanceOrFail(path);
    this.ctx.objects.remove(path[0]!, path[1]!);
    aclAfterDelete(this.ctx.objects, path[0]!, path[1]!);
    this.afterDelete(path);
    return { code: Code.Deleted };
  }

  /** An instance or object is gone (Delete, `removeInstance`, a bootstrap): its attributes and observations too. */
  afterDelete(path: Lwm2mPath): void {
    this.ctx.attributes.removeUnder(path);
    const gone = this.observe.removeUnder(path);
    // observers of the deleted instance and of anything in it learn it from a 4.04 notification, which
    // also ends their observation at the endpoint (RFC 7641 §4.2)
    for (const key of gone) for (const ep of this.routed) ep.notify(key);
    this.observe.valueChanged([path[0]!], undefined);
    this.ctx.objectsDidChange();
  }

  /** Discover (Core §6.3.4): GET with Accept link-format; attributes as written, `dim`, object `ver`. */
  private discover(path: Lwm2mPath, via: Via): ResponseInit {
    if (path.length === 0 || path.length > 3)
      fail('not-allowed', '4.05', `Discover on ${pathText(path)} is not allowed`);
    const oid = path[0]!;
    if (!this.ctx.objects.hasObject(oid)) fail('not-found', '4.04', `object ${oid} not found`);
    const links: Lwm2mLink[] = [];
    const attrs = (p: Lwm2mPath) => this.ctx.attributes.get(p) ?? {};
    const addResources = (entry: InstanceEntry, only?: number) => {
      for (const rid of this.ctx.objects.resourceIds(entry)) {
        if (only !== undefined && rid !== only) continue;
        const p = [oid, entry.id, rid];
        const def = this.ctx.model.getResource(oid, rid);
        const v = entry.slots[rid]!.value;
        const a = attrs(p);
        links.push({ path: p, attributes: def?.multiple && Array.isArray(v) ? { dim: v.length, ...a } : a });
      }
    };
    if (path.length === 1) {
      const ver = this.ctx.objectVersion(oid);
      links.push({ path: [oid], attributes: ver !== '1.0' ? { ver, ...attrs([oid]) } : attrs([oid]) });
      for (const iid of this.ctx.objects.instanceIds(oid)) {
        if (via.mayRead !== undefined && !via.mayRead(oid, iid)) continue;
        const entry = this.ctx.objects.get(oid, iid)!;
        links.push({ path: [oid, iid], attributes: attrs([oid, iid]) });
        addResources(entry);
      }
    } else {
      const entry = this.ctx.reader.instanceOrFail(path);
      if (path.length === 2) {
        links.push({ path: [oid, entry.id], attributes: attrs([oid, entry.id]) });
        addResources(entry);
      } else {
        this.ctx.reader.resourceOrFail(path, entry);
        addResources(entry, path[2]);
      }
    }
    return { code: Code.Content, contentFormat: LINK_FORMAT, payload: formatDiscover(links) };
  }

  /** Write-Attributes (Core §6.3.6): PUT with the attributes in the query and no payload. */
  private writeAttributes(req: CoapRequest, path: Lwm2mPath): ResponseInit {
    if (path.length === 0 || path.length > 4)
      fail('not-allowed', '4.05', 'Write-Attributes on / is not allowed');
    if (!this.ctx.objects.hasObject(path[0]!)) fail('not-found', '4.04', `${pathText(path)} not found`);
    if (path.length >= 2) {
      const entry = this.ctx.reader.instanceOrFail(path);
      if (path.length >= 3) this.ctx.reader.resourceOrFail(path, entry);
    }
    this.ctx.attributes.set(path, applyAttributeQuery(this.ctx.attributes.get(path), req.query, path.length));
    // timers of affected observations follow the new attributes
    this.observe.attributesChanged(path);
    return { code: Code.Changed };
  }

  /**
   * Read-Composite (Core §6.3.2, Transport §6.3): FETCH / with a SenML path list; with Observe it is
   * Observe-Composite (Core §6.4.3) or its cancellation, and a notification is this read again.
   */
  private async readComposite(req: CoapRequest, via: Via, notification: boolean): Promise<ResponseInit> {
    if (req.path.length !== 0) fail('not-allowed', '4.05', 'Read-Composite goes to /');
    const format = req.contentFormat;
    if (format === undefined) fail('bad-request', '4.00', 'Read-Composite without Content-Format');
    const paths = decodeCompositePaths(format, req.payload);
    const entries: Lwm2mCompositeEntry[] = [];
    for (const p of paths) {
      if (p.length > 0 && (p[0] === 0 || p[0] === 21)) continue;
      // paths the server may not read are left out like missing ones (Access Control, Core §7.3.2)
      if (p.length >= 2 && via.mayRead !== undefined && !via.mayRead(p[0]!, p[1]!)) continue;
      try {
        entries.push({
          path: p,
          node: await this.ctx.reader.readNode(p, via.mayRead),
        } as Lwm2mCompositeEntry);
      } catch (e) {
        // Core §6.3.2: paths that do not exist are left out of the response
        if (!(e instanceof Lwm2mClientError) || e.code !== '4.04') throw e;
      }
    }
    const accept = req.accept ?? format;
    const payload = encodeComposite(accept, entries, this.ctx.model);
    if (notification) {
      const o = this.observe.find(compositeKey(req));
      if (o?.members !== undefined) notified(o.members, entries);
    } else if (req.observe === 0) this.observe.addComposite(req, paths, entries, via);
    else if (req.observe === 1) this.observe.remove(compositeKey(req));
    return { code: Code.Content, contentFormat: accept, payload };
  }

  /** Write-Composite (Core §6.3.3, Transport §6.3): iPATCH / with a SenML payload of resources. */
  private async writeComposite(req: CoapRequest, via: Via): Promise<ResponseInit> {
    if (req.path.length !== 0) fail('not-allowed', '4.05', 'Write-Composite goes to /');
    const format = req.contentFormat;
    if (format === undefined) fail('bad-request', '4.00', 'Write-Composite without Content-Format');
    const entries = decodeComposite(format, req.payload, this.ctx.model);
    const plan: {
      entry: InstanceEntry;
      path: Lwm2mPath;
      def: ResourceDefinition;
      value: Lwm2mValue | ResourceInstanceNode[];
    }[] = [];
    for (const e of entries) {
      const p = e.path;
      if (p.length < 3) fail('bad-request', '4.00', 'Write-Composite writes resources');
      if (p[0] === 0 || p[0] === 21) fail('not-allowed', '4.01', 'Security objects are not accessible');
      const entry = this.ctx.reader.instanceOrFail(p);
      via.mayWrite?.(p[0]!, p[1]!);
      const def = this.ctx.model.getResource(p[0]!, p[2]!);
      if (def === undefined) fail('not-found', '4.04', `${pathText(p)} not found`);
      if (!isWritable(def)) fail('not-allowed', '4.05', `${pathText(p)} is not writable`);
      let value = valueOfNode(e.node);
      if (p.length === 4)
        value = mergeInstances(entry.slots[def.id]?.value, [e.node as ResourceInstanceNode]);
      plan.push({ entry, path: p.slice(0, 3), def, value });
    }
    for (const w of plan) await this.applyWrite(w.entry, w.path, w.def, w.value);
    return { code: Code.Changed };
  }
}

/** The instance id of a Create response's Location-Path (`/o/i`). */
function createdId(r: ResponseInit): number {
  const loc = (r.options ?? []).filter((o) => o.number === OptionNumber.LocationPath);
  return Number(loc[loc.length - 1]?.value);
}

/** The operation a GET (or FETCH, `-Composite`) is, for the `operation` event. */
function readOperation(notification: boolean, observe: number | undefined, kind: '' | '-Composite'): string {
  if (notification) return 'Notify';
  if (observe === 0) return `Observe${kind}`;
  if (observe === 1) return `Cancel Observe${kind}`;
  return `Read${kind}`;
}

function parseRequestPath(segments: readonly string[]): Lwm2mPath {
  const out: number[] = [];
  for (const s of segments) {
    if (!/^[0-9]{1,5}$/.test(s) || !isValidId(Number(s)))
      fail('not-found', '4.04', `"/${segments.join('/')}" is not an LwM2M path`);
    out.push(Number(s));
  }
  return out;
}

function mergeInstances(
  current: Lwm2mValue | ResourceInstanceNode[] | undefined,
  updates: readonly ResourceInstanceNode[],
): ResourceInstanceNode[] {
  const out: ResourceInstanceNode[] = Array.isArray(current)
    ? (current as ResourceInstanceNode[]).slice()
    : [];
  for (const u of updates) {
    let replaced = false;
    for (let i = 0; i < out.length; i++) {
      if (out[i]!.id === u.id) {
        out[i] = u;
        replaced = true;
      }
    }
    if (!replaced) out.push(u);
  }
  out.sort((a, b) => a.id - b.id);
  return out;
}

/** Maps any error of a request to its response (never throws: bad input is normal input). */
function errorResponse(e: unknown): ResponseInit {
  let code: number = Code.InternalServerError;
  if (e instanceof Lwm2mClientError) code = codeFromText(e.code);
  else if (e instanceof Lwm2mContentError) code = codeFromText(e.responseCode);
  else if (e instanceof Lwm2mPathError || e instanceof Lwm2mValueError) code = Code.BadRequest;
  const message = e instanceof Error ? e.message : '';
  // a short diagnostic payload (RFC 7252 §5.5.2), bounded
  return { code, payload: utf8Encode(message.slice(0, 120)), contentFormat: ContentFormat.TextPlain };
}

/**
 * The Device Management and Service Enablement interface (LwM2M TS Core 1.1 §6.3): typed operations
 * built on a `DeviceRequestSender` (which handles queue mode and security), with the content-format
 * codecs of the model.
 */
import { type CoapResponse, OptionNumber } from '@thimble/coap-core';
import { decodeComposite, decodeNode, encodeComposite, encodeNode } from '../../content/codecs.js';
import { type Lwm2mLink, parseDiscover } from '../../content/link-format.js';
import type { Lwm2mCompositeEntry } from '../../content/senml.js';
import { type Lwm2mNode, type ObjectInstanceNode, objectNode } from '../../model/nodes.js';
import { formatLwm2mPath, type Lwm2mPath } from '../../model/path.js';
import type { Lwm2mModel } from '../../model/registry.js';
import { Lwm2mServerError } from '../errors.js';
import { compositeFormat, compositeRequest, formatFor, LINK_FORMAT, SENML_CBOR, toPath } from '../formats.js';
import type { Registration } from '../registration/store.js';
import type { ReadOptions, RequestOptionsBase, WriteAttributesInput, WriteOptions } from '../types.js';
import { type DeviceRequest, type DeviceRequestSender, deviceError } from './sender.js';

/** The registration of an endpoint name, or an `Lwm2mServerError` ('unknown-endpoint', 'closed'). */
export type RegistrationLookup = (endpoint: string) => Registration;

/** Decodes a device's answer; a payload the codecs refuse is a `bad-response`. */
export function decodeAnswer(
  model: Lwm2mModel,
  r: Registration,
  operation: string,
  path: Lwm2mPath,
  res: CoapResponse,
  asked: number,
): Lwm2mNode {
  try {
    return decodeNode(res.contentFormat ?? asked, path, res.payload, model);
  } catch (e) {
    throw new Lwm2mServerError(
      'bad-response',
      `${operation} ${formatLwm2mPath(path)} on "${r.endpoint}": ${(e as Error)?.message ?? String(e)}`,
      { cause: e },
    );
  }
}

export class DeviceOperations {
  constructor(
    private readonly sender: DeviceRequestSender,
    private readonly model: Lwm2mModel,
    private readonly registrationOf: RegistrationLookup,
  ) {}

  /** Sends and checks the answer: a 4.xx / 5.xx from the device is a `device-error`. */
  private async call(
    r: Registration,
    operation: string,
    path: Lwm2mPath,
    init: DeviceRequest,
  ): Promise<CoapResponse> {
    const res = await this.sender.request(r, operation, path, init);
    if (!res.ok) throw deviceError(r, operation, path, res);
    return res;
  }

  private encode(format: number, path: Lwm2mPath, node: Lwm2mNode): Uint8Array {
    try {
      return encodeNode(format, path, node, this.model);
    } catch (e) {
      throw new Lwm2mServerError('bad-request', (e as Error)?.message ?? String(e), { cause: e });
    }
  }

  /** Read (Core §6.3.1): the node at `path`, decoded. */
  async read(endpoint: string, path: string | Lwm2mPath, options: ReadOptions = {}): Promise<Lwm2mNode> {
    const r = this.registrationOf(endpoint);
    const p = toPath(path);
    if (p.length === 0) throw new Lwm2mServerError('bad-request', 'Read needs an object path');
    const format = formatFor(r, options.format);
    const res = await this.call(r, 'Read', p, {
      method: 'GET',
      accept: format,
      timeout: options.timeout,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return decodeAnswer(this.model, r, 'Read', p, res, format);
  }

  /** Write (Core §6.3.3): replace with PUT (default) or partial update with POST. */
  async write(
    endpoint: string,
    path: string | Lwm2mPath,
    node: Lwm2mNode,
    options: WriteOptions = {},
  ): Promise<void> {
    const r = this.registrationOf(endpoint);
    const p = toPath(path);
    if (p.length < 2)
      throw new Lwm2mServerError(
        'bad-request',
        'Write needs an instance, resource or resource instance path',
      );
    const format = formatFor(r, options.format);
    const payload = this.encode(format, p, node);
    await this.call(r, 'Write', p, {
      method: options.replace === false ? 'POST' : 'PUT',
      contentFormat: format,
      payload,
      timeout: options.timeout,
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.blockSize === undefined ? {} : { blockSize: options.blockSize }),
    });
  }

  /** Execute (Core §6.3.5) with optional arguments (Core §5.4.2 syntax, sent as given). */
  async execute(
    endpoint: string,
    path: string | Lwm2mPath,
    args?: string,
    options: RequestOptionsBase = {},
  ): Promise<void> {
    const r = this.registrationOf(endpoint);
    const p = toPath(path);
    if (p.length !== 3) throw new Lwm2mServerError('bad-request', 'Execute needs a resource path');
    await this.call(r, 'Execute', p, {
      method: 'POST',
      // Core §5.4.2: the arguments are text (sent as text/plain, as other servers do)
      ...(args === undefined || args === '' ? {} : { payload: args, contentFormat: 0 }),
      timeout: options.timeout,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  }

  /**
   * Create (Core §6.3.7): POST on the object with the new instance. Returns the created instance id
   * (from the Location-Path when the device sends one, else the instance's own id).
   */
  async create(
    endpoint: string,
    objectPath: string | Lwm2mPath,
    instance: ObjectInstanceNode,
    options: ReadOptions = {},
  ): Promise<number> {
    const r = this.registrationOf(endpoint);
    const p = toPath(objectPath);
    if (p.length !== 1) throw new Lwm2mServerError('bad-request', 'Create needs an object path');
    const format = formatFor(r, options.format);
    const payload = this.encode(format, p, objectNode(p[0]!, [instance]));
    const res = await this.call(r, 'Create', p, {
      method: 'POST',
      contentFormat: format,
      payload,
      timeout: options.timeout,
    });
    const location = res.message.getStrings(OptionNumber.LocationPath);
    const last = location[location.length - 1];
    return last !== undefined && /^[0-9]{1,5}$/.test(last) ? Number(last) : instance.id;
  }

  /** Delete (Core §6.3.8). */
  async delete(endpoint: string, path: string | Lwm2mPath, options: RequestOptionsBase = {}): Promise<void> {
    const r = this.registrationOf(endpoint);
    const p = toPath(path);
    if (p.length === 0) throw new Lwm2mServerError('bad-request', 'Delete needs a path');
    await this.call(r, 'Delete', p, { method: 'DELETE', timeout: options.timeout });
  }

  /** Discover (Core §6.3.4): links with their attributes. */
  async discover(
    endpoint: string,
    path: string | Lwm2mPath,
    options: RequestOptionsBase = {},
  ): Promise<Lwm2mLink[]> {
    const r = this.registrationOf(endpoint);
    const p = toPath(path);
    if (p.length === 0) throw new Lwm2mServerError('bad-request', 'Discover needs an object path');
    const res = await this.call(r, 'Discover', p, {
      method: 'GET',
      accept: LINK_FORMAT,
      timeout: options.timeout,
    });
    try {
      return parseDiscover(new TextDecoder('utf-8', { fatal: true }).decode(res.payload));
    } catch (e) {
      throw new Lwm2mServerError('bad-response', `Discover ${formatLwm2mPath(p)}: ${(e as Error)?.message}`, {
        cause: e,
      });
    }
  }

  /** Write-Attributes (Core §6.3.2, §5.1.2): notification attributes as query parameters; `null` clears. */
  async writeAttributes(
    endpoint: string,
    path: string | Lwm2mPath,
    attributes: WriteAttributesInput,
    options: RequestOptionsBase = {},
  ): Promise<void> {
    const r = this.registrationOf(endpoint);
    const p = toPath(path);
    if (p.length === 0) throw new Lwm2mServerError('bad-request', 'Write-Attributes needs an object path');
    const query: string[] = [];
    for (const k of ['pmin', 'pmax', 'gt', 'lt', 'st', 'epmin', 'epmax', 'edge', 'con'] as const) {
      const v = attributes[k];
      if (v === undefined) continue;
      if (v === null) query.push(k);
      else {
        if (!Number.isFinite(v)) throw new Lwm2mServerError('bad-request', `${k} must be a finite number`);
        query.push(`${k}=${v}`);
      }
    }
    if (query.length === 0) throw new Lwm2mServerError('bad-request', 'no attributes to write');
    await this.call(r, 'Write-Attributes', p, { method: 'PUT', query, timeout: options.timeout });
  }

  /** Read-Composite (Core §6.3.6, 1.1+): FETCH on / with the path list; one entry per path with values. */
  async readComposite(
    endpoint: string,
    paths: readonly (string | Lwm2mPath)[],
    options: ReadOptions = {},
  ): Promise<Lwm2mCompositeEntry[]> {
    const r = this.registrationOf(endpoint);
    const ps = paths.map(toPath);
    const format = compositeFormat(r, options.format);
    const res = await this.call(r, 'Read-Composite', [], {
      method: 'FETCH',
      ...compositeRequest(format, ps),
      timeout: options.timeout,
    });
    try {
      return decodeComposite(res.contentFormat ?? format, res.payload, this.model, ps);
    } catch (e) {
      throw new Lwm2mServerError('bad-response', `Read-Composite: ${(e as Error)?.message}`, { cause: e });
    }
  }

  /** Write-Composite (Core §6.3.3, 1.1+): iPATCH on / with SenML values for several paths. */
  async writeComposite(
    endpoint: string,
    entries: readonly Lwm2mCompositeEntry[],
    options: ReadOptions = {},
  ): Promise<void> {
    const r = this.registrationOf(endpoint);
    const format = options.format ?? SENML_CBOR;
    let payload: Uint8Array;
    try {
      payload = encodeComposite(format, entries, this.model);
    } catch (e) {
      throw new Lwm2mServerError('bad-request', (e as Error)?.message ?? String(e), { cause: e });
    }
    await this.call(r, 'Write-Composite', [], {
      method: 'iPATCH',
      contentFormat: format,
      payload,
      timeout: options.timeout,
    });
  }
}

/**
 * Bootstrap configurations: validation (a store refuses an inconsistent one) and their translation into
 * the Security (0), Server (1) and OSCORE (21) instances a bootstrap writes (LwM2M TS Core 1.1 §6.1.7,
 * Appendix E.1, E.2, E.11). Shared by the bootstrap server, the stores and the client's factory bootstrap.
 * Portable: no Node APIs.
 */
import { fromHex, utf8Encode } from '@thimble/coap-core';
import {
  type ObjectInstanceNode,
  objectInstance,
  type ResourceNode,
  singleResource,
} from '../model/nodes.js';
import { type Lwm2mPath, Lwm2mPathError, parseLwm2mPath } from '../model/path.js';
import type { Lwm2mModel } from '../model/registry.js';
import type { Lwm2mValue } from '../model/values.js';
import { Lwm2mError } from '../util/errors.js';
import type {
  BootstrapConfig,
  BootstrapOscoreConfig,
  BootstrapSecurityConfig,
  BootstrapServerConfig,
  SecurityModeName,
} from './types.js';

/** Security Mode codes of /0/x/2 (TS Core 1.1 Appendix E.1). */
export const SECURITY_MODE_CODES: Readonly<Record<SecurityModeName, number>> = {
  psk: 0,
  rpk: 1,
  x509: 2,
  nosec: 3,
  est: 4,
};

export class BootstrapConfigError extends Lwm2mError<'inconsistent-config'> {
  override readonly name = 'BootstrapConfigError';
  constructor(readonly problems: readonly string[]) {
    super('inconsistent-config', `inconsistent bootstrap configuration: ${problems.join('; ')}`);
  }
}

const SCHEMES = ['coap', 'coaps', 'coap+tcp', 'coaps+tcp'];

/**
 * Checks an LwM2M Server URI (`coap://host:port`, `coaps://[::1]:5684`…): undefined when it is usable,
 * else what is wrong with it.
 */
export function serverUriProblem(uri: unknown): string | undefined {
  if (typeof uri !== 'string' || uri === '') return 'no URI';
  if (uri.length > 255) return 'URI longer than 255 characters';
  const m = /^([a-z][a-z0-9+.-]*):\/\/(\[[0-9a-fA-F:.]+\]|[^/:?#[\]@\s]+)(?::([0-9]{1,5}))?\/?$/.exec(uri);
  if (m === null) return `"${uri}" is not a coap://host:port URI`;
  if (!SCHEMES.includes(m[1]!)) return `"${uri}": scheme ${m[1]} is not one of ${SCHEMES.join(', ')}`;
  if (m[3] !== undefined && (Number(m[3]) < 1 || Number(m[3]) > 65535))
    return `"${uri}": port ${m[3]} is out of range`;
  return undefined;
}

/** True for the schemes that need DTLS / TLS (`coaps`, `coaps+tcp`). */
export const isSecureScheme = (uri: string): boolean => /^coaps(\+tcp)?:/.test(uri);

const BINDING = /^[UTSNQ]{1,5}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Validates a configuration given as untrusted JSON data (REST body, JSON file) and returns a clean copy
 * (only the known fields, frozen). Throws `BootstrapConfigError` listing every problem found.
 */
export function validateBootstrapConfig(input: unknown): BootstrapConfig {
  const problems: string[] = [];
  const bad = (p: string) => {
    if (problems.length < 50) problems.push(p);
  };
  if (!isObject(input)) throw new BootstrapConfigError(['a configuration is a JSON object']);
  const ids = (v: unknown, what: string): [number, Record<string, unknown>][] => {
    if (v === undefined) return [];
    if (!isObject(v)) {
      bad(`${what} must be an object keyed by instance id`);
      return [];
    }
    const out: [number, Record<string, unknown>][] = [];
    for (const k of Object.keys(v)) {
      const id = /^[0-9]{1,5}$/.test(k) ? Number(k) : -1;
      if (id < 0 || id > 65534) bad(`${what}: "${k}" is not an instance id 0–65534`);
      else if (!isObject(v[k])) bad(`${what}/${k} must be an object`);
      else out.push([id, v[k] as Record<string, unknown>]);
    }
    return out;
  };
  const str = (
    o: Record<string, unknown>,
    k: string,
    where: string,
    required: boolean,
  ): string | undefined => {
    const v = o[k];
    if (v === undefined) {
      if (required) bad(`${where}: ${k} is required`);
      return undefined;
    }
    if (typeof v !== 'string') {
      bad(`${where}: ${k} must be a string`);
      return undefined;
    }
    return v;
  };
  const hex = (o: Record<string, unknown>, k: string, where: string, required: boolean, nonEmpty = false) => {
    const v = str(o, k, where, required);
    if (v === undefined) return undefined;
    if (!/^([0-9a-fA-F]{2})*$/.test(v)) {
      bad(`${where}: ${k} must be hex`);
      return undefined;
    }
    if (nonEmpty && v.length === 0) bad(`${where}: ${k} must not be empty`);
    return v.toLowerCase();
  };
  const int = (
    o: Record<string, unknown>,
    k: string,
    where: string,
    required: boolean,
    min: number,
    max: number,
  ): number | undefined => {
    const v = o[k];
    if (v === undefined) {
      if (required) bad(`${where}: ${k} is required`);
      return undefined;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      bad(`${where}: ${k} must be an integer ${min}–${max}`);
      return undefined;
    }
    return v;
  };
  const bool = (o: Record<string, unknown>, k: string, where: string, required: boolean) => {
    const v = o[k];
    if (v === undefined) {
      if (required) bad(`${where}: ${k} is required`);
      return undefined;
    }
    if (typeof v !== 'boolean') {
      bad(`${where}: ${k} must be true or false`);
      return undefined;
    }
    return v;
  };
  const paths = (
    v: unknown,
    what: string,
    check: (p: Lwm2mPath, text: string) => void,
  ): string[] | undefined => {
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length > 64) {
      bad(`${what} must be an array of at most 64 paths`);
      return undefined;
    }
    const out: string[] = [];
    for (const p of v) {
      if (typeof p !== 'string') {
        bad(`${what}: ${JSON.stringify(p)?.slice(0, 40)} is not a path`);
        continue;
      }
      try {
        const path = parseLwm2mPath(p);
        check(path, p);
        out.push(path.length === 0 ? '/' : `/${path.join('/')}`);
      } catch (e) {
        if (e instanceof Lwm2mPathError) bad(`${what}: ${e.message}`);
        else throw e;
      }
    }
    return out;
  };

  const oscore: Record<string, BootstrapOscoreConfig> = {};
  for (const [id, o] of ids(input.oscore, 'oscore')) {
    const w = `oscore/${id}`;
    const masterSecret = hex(o, 'masterSecret', w, true, true);
    const senderId = hex(o, 'senderId', w, true);
    const recipientId = hex(o, 'recipientId', w, true);
    const masterSalt = hex(o, 'masterSalt', w, false);
    const idContext = hex(o, 'idContext', w, false);
    const aeadAlgorithm = int(o, 'aeadAlgorithm', w, false, -65536, 65535);
    const hkdfAlgorithm = int(o, 'hkdfAlgorithm', w, false, -65536, 65535);
    if (senderId !== undefined && senderId === recipientId) bad(`${w}: senderId and recipientId are equal`);
    oscore[id] = {
      masterSecret: masterSecret ?? '',
      senderId: senderId ?? '',
      recipientId: recipientId ?? '',
      ...(masterSalt === undefined ? {} : { masterSalt }),
      ...(idContext === undefined ? {} : { idContext }),
      ...(aeadAlgorithm === undefined ? {} : { aeadAlgorithm }),
      ...(hkdfAlgorithm === undefined ? {} : { hkdfAlgorithm }),
    };
  }

  const security: Record<string, BootstrapSecurityConfig> = {};
  const ssidOfSecurity: { [k: number]: number | undefined } = {};
  let bootstrapAccounts = 0;
  for (const [id, o] of ids(input.security, 'security')) {
    const w = `security/${id}`;
    const uri = str(o, 'uri', w, true);
    if (uri !== undefined) {
      const p = serverUriProblem(uri);
      if (p !== undefined) bad(`${w}: ${p}`);
    }
    const bootstrapServer = bool(o, 'bootstrapServer', w, true) ?? false;
    const mode = str(o, 'securityMode', w, true) as SecurityModeName | undefined;
    if (mode !== undefined && !(mode in SECURITY_MODE_CODES))
      bad(`${w}: securityMode must be one of ${Object.keys(SECURITY_MODE_CODES).join(', ')}`);
    const pskIdentity = str(o, 'pskIdentity', w, false);
    const pskKey = hex(o, 'pskKey', w, false);
    if (mode === 'psk') {
      if (pskIdentity === undefined || pskIdentity === '') bad(`${w}: psk mode needs pskIdentity`);
      if (pskKey === undefined || pskKey === '') bad(`${w}: psk mode needs pskKey`);
    } else if (pskIdentity !== undefined || pskKey !== undefined) {
      bad(`${w}: pskIdentity / pskKey are for psk mode only`);
    }
    if (mode === 'rpk' || mode === 'x509' || mode === 'est')
      bad(`${w}: securityMode ${mode} cannot be configured here (no key fields)`);
    if (uri !== undefined && mode !== undefined) {
      if (mode === 'nosec' && isSecureScheme(uri)) bad(`${w}: nosec with a ${uri.split(':')[0]} URI`);
      if (mode !== 'nosec' && !isSecureScheme(uri)) bad(`${w}: ${mode} needs a coaps URI`);
    }
    const shortServerId = int(o, 'shortServerId', w, false, 1, 65534);
    if (bootstrapServer) {
      bootstrapAccounts++;
      if (shortServerId !== undefined) bad(`${w}: a bootstrap-server account has no shortServerId`);
    } else if (shortServerId === undefined && o.shortServerId === undefined) {
      bad(`${w}: shortServerId is required for an LwM2M server`);
    } else if (shortServerId !== undefined) {
      if (ssidOfSecurity[shortServerId] !== undefined)
        bad(`${w}: shortServerId ${shortServerId} is also security/${ssidOfSecurity[shortServerId]}`);
      ssidOfSecurity[shortServerId] = id;
    }
    const clientHoldOffTime = int(o, 'clientHoldOffTime', w, false, 0, 2 ** 31 - 1);
    const oscoreInstance = int(o, 'oscoreInstance', w, false, 0, 65534);
    if (oscoreInstance !== undefined && oscore[oscoreInstance] === undefined)
      bad(`${w}: oscoreInstance ${oscoreInstance} is not in oscore`);
    security[id] = {
      uri: uri ?? '',
      bootstrapServer,
      securityMode: mode ?? 'nosec',
      ...(pskIdentity === undefined ? {} : { pskIdentity }),
      ...(pskKey === undefined ? {} : { pskKey }),
      ...(shortServerId === undefined ? {} : { shortServerId }),
      ...(clientHoldOffTime === undefined ? {} : { clientHoldOffTime }),
      ...(oscoreInstance === undefined ? {} : { oscoreInstance }),
    };
  }
  if (bootstrapAccounts > 1) bad('at most one security instance may be a bootstrap-server account');

  const servers: Record<string, BootstrapServerConfig> = {};
  const seen: { [k: number]: number | undefined } = {};
  for (const [id, o] of ids(input.servers, 'servers')) {
    const w = `servers/${id}`;
    const shortServerId = int(o, 'shortServerId', w, true, 1, 65534);
    const lifetime = int(o, 'lifetime', w, true, 0, 2 ** 31 - 1);
    const defaultMinPeriod = int(o, 'defaultMinPeriod', w, false, 0, 2 ** 31 - 1);
    const defaultMaxPeriod = int(o, 'defaultMaxPeriod', w, false, 0, 2 ** 31 - 1);
    const notificationStoring = bool(o, 'notificationStoring', w, false);
    const binding = str(o, 'binding', w, false);
    if (binding !== undefined && !BINDING.test(binding))
      bad(`${w}: binding "${binding}" is not made of U, T, S, N, Q`);
    if (shortServerId !== undefined) {
      if (seen[shortServerId] !== undefined)
        bad(`${w}: shortServerId ${shortServerId} is also servers/${seen[shortServerId]}`);
      seen[shortServerId] = id;
      if (ssidOfSecurity[shortServerId] === undefined)
        bad(`${w}: no security instance has shortServerId ${shortServerId}`);
    }
    servers[id] = {
      shortServerId: shortServerId ?? 0,
      lifetime: lifetime ?? 0,
      ...(defaultMinPeriod === undefined ? {} : { defaultMinPeriod }),
      ...(defaultMaxPeriod === undefined ? {} : { defaultMaxPeriod }),
      ...(notificationStoring === undefined ? {} : { notificationStoring }),
      ...(binding === undefined ? {} : { binding }),
    };
  }
  for (const [ssid, id] of numberEntries(ssidOfSecurity))
    if (seen[ssid] === undefined) bad(`security/${id}: no servers instance has shortServerId ${ssid}`);
  if (input.security === undefined) bad('security is required');
  if (input.servers === undefined) bad('servers is required');

  const toDelete = paths(input.toDelete, 'toDelete', (p, t) => {
    if (p.length > 2) bad(`toDelete: "${t}" is not /, an object or an object instance`);
  });
  const read = paths(input.read, 'read', (p, t) => {
    if (p.length < 1 || p.length > 2 || (p[0] !== 1 && p[0] !== 2))
      bad(`read: "${t}" is not the Server (1) or Access Control (2) object or one of their instances`);
  });
  const discover = input.discover === undefined ? undefined : bool(input, 'discover', 'config', false);
  const contentFormat = int(input, 'contentFormat', 'config', false, 0, 65535);
  if (contentFormat !== undefined && ![110, 112, 11542, 11543, 11544].includes(contentFormat))
    bad(`contentFormat ${contentFormat} is not TLV, SenML JSON / CBOR or LwM2M JSON / CBOR`);
  for (const k of Object.keys(input))
    if (!['toDelete', 'security', 'servers', 'oscore', 'discover', 'read', 'contentFormat'].includes(k))
      bad(`unknown field "${k.slice(0, 40)}"`);

  if (problems.length > 0) throw new BootstrapConfigError(problems);
  const config: BootstrapConfig = {
    ...(toDelete === undefined ? {} : { toDelete }),
    security,
    servers,
    ...(Object.keys(oscore).length === 0 && input.oscore === undefined ? {} : { oscore }),
    ...(discover === undefined ? {} : { discover }),
    ...(read === undefined ? {} : { read }),
    ...(contentFormat === undefined ? {} : { contentFormat }),
  };
  return deepFreeze(config);
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
    Object.freeze(v);
  }
  return v;
}

/** Resource values of one object instance, by resource id. */
export type InstanceValues = { [resourceId: number]: Lwm2mValue };

const EMPTY = new Uint8Array(0);

/** The Security (0) instance for a configuration: Bootstrap-Server always, keys as opaque. */
export function securityInstanceValues(s: BootstrapSecurityConfig): InstanceValues {
  const v: InstanceValues = {
    0: s.uri,
    1: s.bootstrapServer,
    2: SECURITY_MODE_CODES[s.securityMode],
    3: s.pskIdentity === undefined ? EMPTY : utf8Encode(s.pskIdentity),
    4: EMPTY,
    5: s.pskKey === undefined ? EMPTY : fromHex(s.pskKey),
  };
  if (s.shortServerId !== undefined) v[10] = s.shortServerId;
  if (s.clientHoldOffTime !== undefined) v[11] = s.clientHoldOffTime;
  if (s.oscoreInstance !== undefined) v[17] = { objectId: 21, instanceId: s.oscoreInstance };
  return v;
}

/** The Server (1) instance for a configuration (Notification Storing true and binding U by default). */
export function serverInstanceValues(s: BootstrapServerConfig): InstanceValues {
  const v: InstanceValues = { 0: s.shortServerId, 1: s.lifetime };
  if (s.defaultMinPeriod !== undefined) v[2] = s.defaultMinPeriod;
  if (s.defaultMaxPeriod !== undefined) v[3] = s.defaultMaxPeriod;
  v[6] = s.notificationStoring ?? true;
  v[7] = s.binding ?? 'U';
  return v;
}

/**
 * The OSCORE (21) instance for a configuration. Sender and recipient ids are the device's: resource 1
 * (OSCORE Sender ID) is the id the device sends with, resource 2 the id it receives with.
 */
export function oscoreInstanceValues(o: BootstrapOscoreConfig): InstanceValues {
  const v: InstanceValues = {
    0: fromHex(o.masterSecret),
    1: fromHex(o.senderId),
    2: fromHex(o.recipientId),
    3: o.aeadAlgorithm ?? 10,
    4: o.hkdfAlgorithm ?? -10,
  };
  if (o.masterSalt !== undefined) v[5] = fromHex(o.masterSalt);
  if (o.idContext !== undefined) v[6] = fromHex(o.idContext);
  return v;
}

/** An instance node for values, typed by the model (resources the model lacks are left out). */
export function instanceNodeOf(
  model: Lwm2mModel,
  objectId: number,
  instanceId: number,
  values: InstanceValues,
): ObjectInstanceNode {
  const resources: ResourceNode[] = [];
  for (const k of Object.keys(values)) {
    const def = model.getResource(objectId, Number(k));
    if (def === undefined || def.multiple) continue;
    resources.push(singleResource(def.id, def.type, values[Number(k)]!));
  }
  return objectInstance(instanceId, resources);
}

/** `[key, value]` pairs of a plain object keyed by number (no Map: the client stays portable). */
function numberEntries(o: { [k: number]: number | undefined }): [number, number][] {
  const out: [number, number][] = [];
  for (const k of Object.keys(o)) out.push([Number(k), o[Number(k)]!]);
  return out;
}

/**
 * The registration links of a client (LwM2M TS Core 1.1 §6.2.1: objects and instances with `ver`, and
 * the content formats from 1.1 on), made once per change of the objects and shared between the clients of
 * a process that register the same links (the devices of a fleet).
 */
import { utf8Encode } from '@thimble/coap-core';
import { formatRegistrationLinks } from '../../content/link-format.js';
import type { ObjectDefinition } from '../../model/definitions.js';
import type { Lwm2mPath } from '../../model/path.js';
import type { Lwm2mModel } from '../../model/registry.js';
import type { InstanceStore } from '../objects/store.js';
import type { Lwm2mVersion } from './servers.js';

/**
 * The content format announced in the registration's `ct` from 1.1 on (Core 1.1 §6.2.1): the client's
 * preferred one, SenML CBOR, alone. The TS says a client SHOULD NOT list the formats every client must
 * support anyway (plain text, opaque, TLV); servers of 1.1 (Wakaama's) accept a single value and answer
 * 4.00 to a list.
 */
const ANNOUNCED_FORMATS = [112];

/** A few recent entries, searched in order, the oldest replaced when full (no Map: Espruino). */
class RecentEntries<T> {
  private readonly entries: T[] = [];
  private next = 0;
  constructor(private readonly max: number) {}

  find(match: (e: T) => boolean): T | undefined {
    for (let i = 0; i < this.entries.length; i++) if (match(this.entries[i]!)) return this.entries[i];
    return undefined;
  }

  /** Puts `e` in the place of the entry `same` picks, else adds it (in the oldest's place when full). */
  remember(e: T, same: (o: T) => boolean): void {
    for (let i = 0; i < this.entries.length; i++) {
      if (same(this.entries[i]!)) {
        this.entries[i] = e;
        return;
      }
    }
    if (this.entries.length < this.max) this.entries.push(e);
    else {
      this.entries[this.next] = e;
      this.next = (this.next + 1) % this.max;
    }
  }
}

export type LinksPayload = { readonly text: string; readonly bytes: Uint8Array };

/**
 * The UTF-8 bytes of registration link payloads, shared by every client of the process that registers the
 * same links (the devices of a fleet). The bytes are only ever read (copied into the CoAP message).
 */
const LINK_BYTES = new RecentEntries<LinksPayload>(8);

/** The shared entry for `text` (its string is shared too: a device keeps no copy of its own). */
function sharedLinks(text: string): LinksPayload {
  const found = LINK_BYTES.find((e) => e.text === text);
  if (found !== undefined) return found;
  const e = { text, bytes: utf8Encode(text) };
  LINK_BYTES.remember(e, () => false);
  return e;
}

/**
 * Registration links by the shape of the objects (`InstanceStore.shape`), the model and the LwM2M version:
 * the devices of a fleet build the same objects in the same order, so all but the first find their links
 * here instead of listing and formatting them. Each entry keeps the definitions of the objects it lists
 * and is used only while the model still has those (a model may get a newer version of an object).
 */
interface ShapeLinks {
  readonly model: Lwm2mModel;
  readonly version: Lwm2mVersion;
  readonly shape: string;
  readonly definitions: readonly (ObjectDefinition | undefined)[];
  readonly objectIds: readonly number[];
  readonly links: LinksPayload;
}

const SHAPE_LINKS = new RecentEntries<ShapeLinks>(8);

function findShapeLinks(model: Lwm2mModel, version: Lwm2mVersion, shape: string): LinksPayload | undefined {
  const e = SHAPE_LINKS.find((o) => o.model === model && o.version === version && o.shape === shape);
  if (e === undefined) return undefined;
  for (let k = 0; k < e.objectIds.length; k++)
    if (model.getObject(e.objectIds[k]!) !== e.definitions[k]) return undefined;
  return e.links;
}

function rememberShapeLinks(
  model: Lwm2mModel,
  version: Lwm2mVersion,
  shape: string,
  objectIds: readonly number[],
  links: LinksPayload,
): void {
  const definitions = objectIds.map((id) => model.getObject(id));
  // an entry for the same shape is outdated (the model changed since): replaced
  SHAPE_LINKS.remember(
    { model, version, shape, definitions, objectIds, links },
    (o) => o.model === model && o.version === version && o.shape === shape,
  );
}

/** One client's registration links (see the module comment). */
export class RegistrationLinks {
  /** The registration links last made (see `payload`). */
  private linksCache:
    | {
        revision: number;
        version: Lwm2mVersion;
        links: LinksPayload;
      }
    | undefined;

  constructor(
    private readonly model: Lwm2mModel,
    private readonly objects: InstanceStore,
    /** Object versions of the device's own (`Lwm2mClientOptions.objectVersions`): no sharing then. */
    private readonly objectVersions: { readonly [objectId: number]: string } | undefined,
  ) {}

  /** The version of an object this device implements (Core §6.2.1 `ver`). */
  objectVersion(objectId: number): string {
    return this.objectVersions?.[objectId] ?? this.model.getObject(objectId)?.version ?? '1.0';
  }

  /**
   * The registration links as text and as the bytes of a Register / Update payload, made once and kept
   * until the objects change (`InstanceStore.revision`) or another LwM2M version asks for them (the
   * content formats are listed from 1.1 on). A device registers, re-registers and updates with the same
   * links, so this is usually one formatting and one UTF-8 encoding per device.
   */
  payload(version: Lwm2mVersion): Uint8Array {
    return this.linksOf(version).bytes;
  }

  text(version: Lwm2mVersion): string {
    return this.linksOf(version).text;
  }

  /**
   * The links of this client's objects, from its own cache, else from the clients with the same model,
   * objects and instances (`InstanceStore.shape`), else formatted.
   */
  private linksOf(version: Lwm2mVersion): LinksPayload {
    const c = this.linksCache;
    if (c !== undefined && c.revision === this.objects.revision && c.version === version) return c.links;
    const revision = this.objects.revision;
    // object versions given in the options are this client's own: no sharing then
    const shape = this.objectVersions === undefined ? this.objects.shape : undefined;
    let links = shape === undefined ? undefined : findShapeLinks(this.model, version, shape);
    if (links === undefined) {
      links = sharedLinks(this.formatLinks(version));
      if (shape !== undefined)
        rememberShapeLinks(this.model, version, shape, this.objects.objectIds(), links);
    }
    this.linksCache = { revision, version, links };
    return links;
  }

  private formatLinks(version: Lwm2mVersion): string {
    const objects: { path: Lwm2mPath; version?: string }[] = [];
    for (const oid of this.objects.objectIds()) {
      if (oid === 0 || oid === 21) continue;
      const version = this.objectVersion(oid);
      const ver = version !== '1.0' ? version : undefined;
      const iids = this.objects.instanceIds(oid);
      if (iids.length === 0 || ver !== undefined)
        objects.push(ver === undefined ? { path: [oid] } : { path: [oid], version: ver });
      for (const iid of iids) objects.push({ path: [oid, iid] });
    }
    return formatRegistrationLinks({
      rootPath: '/',
      contentFormats: version === '1.0' ? [] : ANNOUNCED_FORMATS,
      objects,
    });
  }
}

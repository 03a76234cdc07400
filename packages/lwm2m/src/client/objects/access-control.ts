/**
 * Access Control (LwM2M TS Core 1.1 §7.3.2, Appendix E.3, object 2), enforced when the client has more
 * than one LwM2M Server account (with one server it "MAY" be skipped, and we do).
 *
 * An Access Control instance names an object instance (/2/x/0 Object ID, /2/x/1 Object Instance ID) and
 * holds the ACL (/2/x/2): resource instance id = Short Server ID, value = rights bits; the resource
 * instance 0 is the default ACL for servers without their own entry. /2/x/3 is the Access Control Owner:
 * the owner without an ACL entry of its own has every right. Object Instance ID 65535 holds the Create
 * right for the object.
 *
 * Rights bits: 1 Read (also Observe, Discover, Write-Attributes), 2 Write, 4 Execute, 8 Delete, 16 Create.
 * A denied operation is answered 4.01 Unauthorized ("Access Right Permission Denied", Transport §6.3).
 *
 * Beyond the ACLs: a server always has access to its own Server object instance (/1/x with /1/x/0 = its
 * Short Server ID); Access Control instances are readable and writable by their owner only, and only the
 * Bootstrap-Server creates or deletes them.
 */
import type { ResourceInstanceNode } from '../../model/nodes.js';
import { Lwm2mClientError } from '../errors.js';
import type { InstanceEntry, InstanceStore } from './store.js';

export const AccessRight = {
  Read: 1,
  Write: 2,
  Execute: 4,
  Delete: 8,
  Create: 16,
} as const;

export type AccessOperation = 'read' | 'write' | 'execute' | 'delete' | 'create';

const BIT: { readonly [op in AccessOperation]: number } = {
  read: AccessRight.Read,
  write: AccessRight.Write,
  execute: AccessRight.Execute,
  delete: AccessRight.Delete,
  create: AccessRight.Create,
};

/** Object Instance ID of the ACL that carries the Create right of an object. */
export const CREATE_ACL_INSTANCE = 65535;

const ALL = AccessRight.Read | AccessRight.Write | AccessRight.Execute | AccessRight.Delete;

function num(entry: InstanceEntry, rid: number): number | undefined {
  const v = entry.slots[rid]?.value;
  return typeof v === 'number' ? v : undefined;
}

/** The Access Control instance for /objectId/instanceId, if any. */
export function findAcl(
  objects: InstanceStore,
  objectId: number,
  instanceId: number,
): InstanceEntry | undefined {
  for (const id of objects.instanceIds(2)) {
    const e = objects.get(2, id)!;
    if (num(e, 0) === objectId && num(e, 1) === instanceId) return e;
  }
  return undefined;
}

/** The rights bits `shortServerId` has on /objectId/instanceId (0 when there is no ACL at all). */
export function accessRights(
  objects: InstanceStore,
  shortServerId: number,
  objectId: number,
  instanceId: number,
): number {
  const acl = findAcl(objects, objectId, instanceId);
  if (acl === undefined) return 0;
  const list = acl.slots[2]?.value;
  const entries = Array.isArray(list) ? (list as ResourceInstanceNode[]) : [];
  for (const ri of entries) if (ri.id === shortServerId && typeof ri.value === 'number') return ri.value;
  // the owner without an entry of its own has full access (Core §7.3.2)
  if (num(acl, 3) === shortServerId) return instanceId === CREATE_ACL_INSTANCE ? AccessRight.Create : ALL;
  for (const ri of entries) if (ri.id === 0 && typeof ri.value === 'number') return ri.value;
  return 0;
}

function deny(what: string): never {
  throw new Lwm2mClientError('not-allowed', '4.01', `access denied: ${what}`);
}

/**
 * Throws 4.01 unless `shortServerId` may do `op` on /objectId[/instanceId]. `instanceId` undefined means
 * the object itself (Create; object-level reads are filtered per instance by the caller).
 */
export function checkAccess(
  objects: InstanceStore,
  shortServerId: number | undefined,
  op: AccessOperation,
  objectId: number,
  instanceId: number | undefined,
): void {
  if (shortServerId === undefined) deny('the request does not come from a known LwM2M Server');
  const where = instanceId === undefined ? `/${objectId}` : `/${objectId}/${instanceId}`;
  if (objectId === 2) {
    // Access Control instances: their owner reads and writes them; the Bootstrap-Server manages them
    if (instanceId === undefined || op === 'create' || op === 'delete' || op === 'execute')
      deny(`${op} on ${where} is for the Bootstrap-Server`);
    const e = objects.get(2, instanceId);
    if (e !== undefined && num(e, 3) !== shortServerId) deny(`${where} belongs to another server`);
    return;
  }
  if (objectId === 1 && instanceId !== undefined) {
    const e = objects.get(1, instanceId);
    if (e !== undefined && num(e, 0) === shortServerId) return;
  }
  if (op === 'create') {
    if ((accessRights(objects, shortServerId, objectId, CREATE_ACL_INSTANCE) & AccessRight.Create) === 0)
      deny(`server ${shortServerId} may not create in /${objectId}`);
    return;
  }
  if (instanceId === undefined) return;
  if ((accessRights(objects, shortServerId, objectId, instanceId) & BIT[op]) === 0)
    deny(`server ${shortServerId} has no ${op} right on ${where}`);
}

/** May `shortServerId` read /objectId/instanceId (to filter object-level Read, Observe and Discover)? */
export function mayRead(
  objects: InstanceStore,
  shortServerId: number | undefined,
  objectId: number,
  instanceId: number,
): boolean {
  try {
    checkAccess(objects, shortServerId, 'read', objectId, instanceId);
    return true;
  } catch {
    return false;
  }
}

/**
 * After a server created /objectId/instanceId: an Access Control instance owned by that server (Core
 * §7.3.2: the creating server becomes the Access Control Owner).
 */
export function aclAfterCreate(
  objects: InstanceStore,
  shortServerId: number,
  objectId: number,
  instanceId: number,
): void {
  if (objectId === 2 || findAcl(objects, objectId, instanceId) !== undefined) return;
  objects.add(2, objects.freeInstanceId(2), { 0: objectId, 1: instanceId, 3: shortServerId });
}

/** After /objectId/instanceId was deleted: its Access Control instance goes too. */
export function aclAfterDelete(objects: InstanceStore, objectId: number, instanceId: number): void {
  const acl = findAcl(objects, objectId, instanceId);
  if (acl !== undefined) objects.remove(2, acl.id);
}

/**
 * The vendor object that carries a firmware package's SHA-256 digest, shared by the client's firmware
 * update (which checks a package against it) and the server's firmware campaigns (which write it before a
 * push). See `client/firmware/firmware.ts` for how the digest is used.
 */
import type { ObjectDefinition } from './definitions.js';

export const FIRMWARE_DIGEST_OBJECT_ID = 30500;

export const FIRMWARE_DIGEST_OBJECT: ObjectDefinition = {
  id: FIRMWARE_DIGEST_OBJECT_ID,
  name: 'Firmware Package Digest',
  version: '1.0',
  lwm2mVersion: '1.1',
  multiple: false,
  mandatory: false,
  resources: [{ id: 0, name: 'SHA-256', operations: 'RW', multiple: false, mandatory: true, type: 'Opaque' }],
};

/**
 * JSON schemas of the REST API: request validation (Ajv, through Fastify), response serialisation
 * (fast-json-stringify) and the OpenAPI document (@fastify/swagger). Shared schemas have an `$id` and are
 * referenced as `{ $ref: '<id>#' }`; they become `components.schemas` in the OpenAPI document.
 */
import { RESOURCE_TYPES } from '../../model/definitions.js';

const hex = { type: 'string', pattern: '^([0-9a-fA-F]{2})*$', maxLength: 512 } as const;
const id16 = { type: 'integer', minimum: 0, maximum: 65534 } as const;

export const ErrorSchema = {
  $id: 'Error',
  type: 'object',
  description: 'What went wrong: a short code and a message; coapCode when a device answered with an error.',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', description: 'e.g. bad-request, unknown-endpoint, timeout, device-error' },
    message: { type: 'string' },
    coapCode: { type: 'string', description: "the device's CoAP response code, e.g. 4.04" },
  },
} as const;

export const NodeSchema = {
  $id: 'Lwm2mNode',
  type: 'object',
  description:
    'An LwM2M node. Values: numbers (64-bit integers beyond 2^53 as decimal strings), strings, booleans, ' +
    'Opaque as base64, Time as seconds since 1970, Objlnk as { objectId, instanceId }. On input kind, id ' +
    '(where the path gives it) and type (when the model knows the resource) may be left out.',
  properties: {
    kind: {
      type: 'string',
      enum: ['object', 'objectInstance', 'resource', 'multipleResource', 'resourceInstance'],
    },
    id: id16,
    type: { type: 'string', enum: RESOURCE_TYPES.filter((t) => t !== 'none') },
    value: {
      // a type list, not anyOf: Ajv's coercion would turn `true` into "true" in a string branch
      type: ['string', 'number', 'boolean', 'object'],
      description: 'the value of a resource or resource instance',
      // an object value is an Objlnk (the serializer writes only the properties it knows)
      properties: { objectId: { type: 'integer' }, instanceId: { type: 'integer' } },
    },
    instances: { type: 'array', items: { $ref: 'Lwm2mNode#' } },
    resources: { type: 'array', items: { $ref: 'Lwm2mNode#' } },
  },
  additionalProperties: false,
} as const;

const objectLinkSchema = {
  type: 'object',
  properties: { path: { type: 'string' }, version: { type: 'string' } },
} as const;

export const RegistrationSchema = {
  $id: 'Registration',
  type: 'object',
  description: 'A registered device (LwM2M TS Core 1.1 §6.2.1). Times are clock milliseconds (epoch ms).',
  properties: {
    endpoint: { type: 'string' },
    registrationId: { type: 'string' },
    lifetime: { type: 'integer' },
    version: { type: 'string' },
    binding: { type: 'string' },
    queueMode: { type: 'boolean' },
    sms: { type: 'string' },
    address: { type: 'string' },
    port: { type: 'integer' },
    rootPath: { type: 'string' },
    contentFormats: { type: 'array', items: { type: 'integer' } },
    objects: { type: 'array', items: objectLinkSchema },
    registeredAt: { type: 'number' },
    updatedAt: { type: 'number' },
    expiresAt: { type: 'number' },
  },
} as const;

export const FirmwareImageSchema = {
  $id: 'FirmwareImage',
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    size: { type: 'integer' },
    sha256: { type: 'string' },
    createdAt: { type: 'number' },
  },
} as const;

export const DeviceCampaignStatusSchema = {
  $id: 'DeviceCampaignStatus',
  type: 'object',
  properties: {
    endpoint: { type: 'string' },
    state: {
      type: 'string',
      enum: ['pending', 'downloading', 'downloaded', 'updating', 'succeeded', 'failed'],
    },
    bytesSent: { type: 'integer' },
    totalBytes: { type: 'integer' },
    attempts: { type: 'integer' },
    updateResult: { type: 'integer' },
    error: { type: 'string' },
    startedAt: { type: 'number' },
    finishedAt: { type: 'number' },
  },
} as const;

export const CampaignSchema = {
  $id: 'Campaign',
  type: 'object',
  properties: {
    id: { type: 'string' },
    imageId: { type: 'string' },
    method: { type: 'string', enum: ['push', 'pull'] },
    state: { type: 'string', enum: ['running', 'finished'] },
    createdAt: { type: 'number' },
    finishedAt: { type: 'number' },
    cancelled: { type: 'boolean' },
    succeeded: { type: 'integer' },
    failed: { type: 'integer' },
    devices: { type: 'array', items: { $ref: 'DeviceCampaignStatus#' } },
  },
} as const;

export const CredentialsSchema = {
  $id: 'EndpointCredentials',
  type: 'object',
  description:
    'Credentials of one endpoint (keys in hex): a PSK or a raw public key for DTLS and / or an OSCORE context.',
  properties: {
    endpoint: { type: 'string', minLength: 1, maxLength: 128 },
    psk: {
      type: 'object',
      required: ['identity', 'key'],
      additionalProperties: false,
      properties: { identity: { type: 'string', minLength: 1, maxLength: 128 }, key: hex },
    },
    rpk: {
      type: 'object',
      description: "the device's SubjectPublicKeyInfo (DER, hex) for DTLS with raw public keys (RFC 7250)",
      required: ['publicKey'],
      additionalProperties: false,
      properties: { publicKey: hex },
    },
    oscore: {
      type: 'object',
      required: ['masterSecret', 'senderId', 'recipientId'],
      additionalProperties: false,
      properties: {
        masterSecret: hex,
        senderId: hex,
        recipientId: hex,
        masterSalt: hex,
        idContext: hex,
      },
    },
  },
  additionalProperties: false,
} as const;

const fingerprint = {
  type: 'string',
  description: 'the first 8 bytes of the SHA-256 of the secret, hex: tells keys apart, reveals none',
} as const;

export const CredentialsViewSchema = {
  $id: 'EndpointCredentialsView',
  type: 'object',
  description:
    'Credentials of one endpoint as the API shows them: identities and key fingerprints, never a key (secrets are write-only).',
  properties: {
    endpoint: { type: 'string' },
    psk: {
      type: 'object',
      properties: { identity: { type: 'string' }, keyFingerprint: fingerprint },
    },
    rpk: { type: 'object', required: ['publicKey'], properties: { publicKey: { type: 'string' } } },
    oscore: {
      type: 'object',
      properties: {
        senderId: { type: 'string' },
        recipientId: { type: 'string' },
        idContext: { type: 'string' },
        masterSecretFingerprint: fingerprint,
        masterSaltFingerprint: fingerprint,
      },
    },
  },
} as const;

const securityInstance = {
  type: 'object',
  required: ['uri', 'bootstrapServer', 'securityMode'],
  additionalProperties: false,
  properties: {
    uri: { type: 'string', maxLength: 255 },
    bootstrapServer: { type: 'boolean' },
    securityMode: { type: 'string', enum: ['psk', 'rpk', 'x509', 'nosec', 'est'] },
    pskIdentity: { type: 'string', maxLength: 128 },
    pskKey: hex,
    shortServerId: { type: 'integer', minimum: 1, maximum: 65534 },
    clientHoldOffTime: { type: 'integer', minimum: 0 },
    oscoreInstance: id16,
  },
} as const;

const serverInstance = {
  type: 'object',
  required: ['shortServerId', 'lifetime'],
  additionalProperties: false,
  properties: {
    shortServerId: { type: 'integer', minimum: 1, maximum: 65534 },
    lifetime: { type: 'integer', minimum: 1 },
    defaultMinPeriod: { type: 'integer', minimum: 0 },
    defaultMaxPeriod: { type: 'integer', minimum: 0 },
    notificationStoring: { type: 'boolean' },
    binding: { type: 'string', maxLength: 8 },
  },
} as const;

const oscoreInstance = {
  type: 'object',
  required: ['masterSecret', 'senderId', 'recipientId'],
  additionalProperties: false,
  properties: {
    masterSecret: hex,
    senderId: hex,
    recipientId: hex,
    masterSalt: hex,
    idContext: hex,
    aeadAlgorithm: { type: 'integer' },
    hkdfAlgorithm: { type: 'integer' },
  },
} as const;

const byInstanceId = (schema: object) =>
  ({
    type: 'object',
    propertyNames: { pattern: '^[0-9]{1,5}$' },
    additionalProperties: schema,
  }) as const;

export const BootstrapConfigSchema = {
  $id: 'BootstrapConfig',
  type: 'object',
  description:
    'What the bootstrap server writes to one device (LwM2M TS Core 1.1 §6.1.7); keys by instance id.',
  required: ['security', 'servers'],
  additionalProperties: false,
  properties: {
    toDelete: { type: 'array', items: { type: 'string', maxLength: 32 }, maxItems: 64 },
    security: byInstanceId(securityInstance),
    servers: byInstanceId(serverInstance),
    oscore: byInstanceId(oscoreInstance),
    discover: { type: 'boolean' },
    read: { type: 'array', items: { type: 'string', maxLength: 32 }, maxItems: 64 },
  },
} as const;

export const SHARED_SCHEMAS = [
  ErrorSchema,
  NodeSchema,
  RegistrationSchema,
  FirmwareImageSchema,
  DeviceCampaignStatusSchema,
  CampaignSchema,
  CredentialsSchema,
  CredentialsViewSchema,
  BootstrapConfigSchema,
] as const;

export const ref = (id: (typeof SHARED_SCHEMAS)[number]['$id']) => ({ $ref: `${id}#` }) as const;

/** The error responses every route may give. */
export const errors = (...statuses: number[]) => {
  const out: { [status: number]: { $ref: string } } = {};
  for (const s of statuses) out[s] = ref('Error');
  return out;
};

export const endpointParam = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  description: 'Endpoint Client Name',
} as const;

/** Content format names the `format` query parameter accepts, with their numbers (LwM2M TS Core 1.1 §7.4). */
export const FORMAT_NAMES: { readonly [name: string]: number } = {
  text: 0,
  opaque: 42,
  cbor: 60,
  'senml-json': 110,
  'senml-cbor': 112,
  tlv: 11542,
  'lwm2m-json': 11543,
  'lwm2m-cbor': 11544,
};

export const formatQuery = {
  type: 'string',
  pattern: `^(${Object.keys(FORMAT_NAMES).join('|')}|[0-9]{1,5})$`,
  description: `content format towards the device: ${Object.keys(FORMAT_NAMES).join(', ')} or a number`,
} as const;

export const timeoutQuery = {
  type: 'number',
  exclusiveMinimum: 0,
  maximum: 3600,
  description: 'seconds to wait for the device (default: the server limit, 30 s)',
} as const;

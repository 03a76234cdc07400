/** The REST API's shapes, as the console uses them (see the OpenAPI document at /api/openapi.json). */

export interface Registration {
  endpoint: string;
  registrationId: string;
  lifetime: number;
  version: string;
  binding: string;
  queueMode: boolean;
  sms?: string;
  address: string;
  port: number;
  rootPath: string;
  contentFormats: number[];
  objects: { path: string; version?: string }[];
  registeredAt: number;
  updatedAt: number;
  expiresAt: number;
}

export interface RegistrationPage {
  total: number;
  items: Registration[];
  nextCursor?: string;
}

export interface Stats {
  registrations: number;
  byVersion: Record<string, number>;
  byBinding: Record<string, number>;
  queueMode: number;
  services: { firmware: boolean; bootstrap: boolean; security: boolean; messageLog: boolean };
}

export type Operations = 'R' | 'W' | 'RW' | 'E' | 'none';

export interface ResourceDefinition {
  id: number;
  name: string;
  operations: Operations;
  multiple: boolean;
  mandatory: boolean;
  type: string;
  range?: string;
  units?: string;
  description?: string;
}

export interface ObjectDefinition {
  id: number;
  name: string;
  description?: string;
  version: string;
  multiple: boolean;
  mandatory: boolean;
  resources: ResourceDefinition[];
}

export type JsonValue = string | number | boolean | { objectId: number; instanceId: number };

export interface JsonNode {
  kind: 'object' | 'objectInstance' | 'resource' | 'multipleResource' | 'resourceInstance';
  id: number;
  type?: string;
  value?: JsonValue;
  instances?: JsonNode[];
  resources?: JsonNode[];
}

export interface FirmwareImage {
  id: string;
  name: string;
  size: number;
  sha256: string;
  createdAt: number;
}

export type DeviceState = 'pending' | 'downloading' | 'downloaded' | 'updating' | 'succeeded' | 'failed';

export interface DeviceCampaignStatus {
  endpoint: string;
  state: DeviceState;
  bytesSent: number;
  totalBytes: number;
  attempts: number;
  updateResult?: number;
  error?: string;
}

export interface Campaign {
  id: string;
  imageId: string;
  method: 'push' | 'pull';
  state: 'running' | 'finished';
  createdAt: number;
  finishedAt?: number;
  cancelled?: boolean;
  succeeded: number;
  failed: number;
  devices: DeviceCampaignStatus[];
}

export interface CredentialsView {
  endpoint: string;
  psk?: { identity: string; keyFingerprint: string };
  oscore?: {
    senderId: string;
    recipientId: string;
    idContext?: string;
    masterSecretFingerprint: string;
    masterSaltFingerprint?: string;
  };
}

export interface CoapLogEntry {
  time: number;
  direction: 'in' | 'out';
  type: string;
  code: string;
  messageId: number;
  token: string;
  options: string[];
  payload: string;
  size: number;
}

/** Content format numbers by name (LwM2M TS Core 1.1 §7.4), the `format` query parameter's names. */
export const FORMATS: Record<number, string> = {
  0: 'text',
  42: 'opaque',
  60: 'cbor',
  110: 'senml-json',
  112: 'senml-cbor',
  11542: 'tlv',
  11543: 'lwm2m-json',
  11544: 'lwm2m-cbor',
};

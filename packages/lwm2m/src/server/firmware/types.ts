/**
 * The firmware service contract shared by the campaign engine (`campaign.ts`) and the REST API
 * (`/api/firmware`). Plain data only, so statuses serialise to JSON as they are.
 */

/** How the image reaches the device (LwM2M TS Core 1.1 Appendix E.6, object 5 Delivery Method). */
export type FirmwareMethod = 'push' | 'pull';

export interface FirmwareImageInfo {
  readonly id: string;
  readonly name: string;
  readonly size: number;
  /** SHA-256 of the image, lowercase hex: offered to devices for the integrity check. */
  readonly sha256: string;
  /** Clock ms when the image was added. */
  readonly createdAt: number;
}

export interface CampaignOptions {
  readonly imageId: string;
  /** Endpoint names. */
  readonly targets: readonly string[];
  readonly method: FirmwareMethod;
  /** Devices updated at the same time (default 10). */
  readonly concurrency?: number;
  /** Further attempts per device after a failure (default 2). */
  readonly retries?: number;
  /** Limit for one attempt on one device, download and update included, in ms (default 10 minutes). */
  readonly attemptTimeoutMs?: number;
  /** Pull only: a Package URI to write instead of the URI of the image served by this server. */
  readonly packageUri?: string;
}

export type DeviceCampaignState =
  | 'pending'
  | 'downloading'
  | 'downloaded'
  | 'updating'
  | 'succeeded'
  | 'failed';

export interface DeviceCampaignStatus {
  readonly endpoint: string;
  readonly state: DeviceCampaignState;
  /** Push: bytes acknowledged by the device; pull: bytes served to it. */
  readonly bytesSent: number;
  readonly totalBytes: number;
  /** Attempts started so far (1 for the first). */
  readonly attempts: number;
  /** Last Update Result (`/5/0/5`) seen, when one was read or notified. */
  readonly updateResult?: number;
  /** Why the last attempt failed, in words. */
  readonly error?: string;
  readonly startedAt?: number;
  readonly finishedAt?: number;
}

export interface CampaignStatus {
  readonly id: string;
  readonly imageId: string;
  readonly method: FirmwareMethod;
  readonly state: 'running' | 'finished';
  readonly createdAt: number;
  readonly finishedAt?: number;
  /** The campaign was cancelled (`cancelCampaign`). */
  readonly cancelled?: boolean;
  readonly succeeded: number;
  readonly failed: number;
  readonly devices: readonly DeviceCampaignStatus[];
}

export type FirmwareEvent =
  | ({ readonly type: 'progress'; readonly campaignId: string } & DeviceCampaignStatus)
  | { readonly type: 'campaign-finished'; readonly campaign: CampaignStatus };

/** What the REST API and the CLI need from the firmware side of the server. */
export interface FirmwareService {
  addImage(name: string, data: Uint8Array): Promise<FirmwareImageInfo>;
  image(id: string): FirmwareImageInfo | undefined;
  images(): FirmwareImageInfo[];
  /** Starts a campaign; throws an `Error` with a message for an unknown image or an empty target list. */
  startCampaign(options: CampaignOptions): CampaignStatus;
  campaign(id: string): CampaignStatus | undefined;
  campaigns(): CampaignStatus[];
  /** Cancels a running campaign (optional: without it the REST API answers 501); undefined when unknown. */
  cancelCampaign?(id: string): CampaignStatus | undefined;
  /** Forgets an image; false when unknown; throws an `Error` while a running campaign uses it. */
  removeImage?(id: string): boolean;
  /** Forgets a finished campaign; false when unknown; throws an `Error` while it runs. */
  removeCampaign?(id: string): boolean;
  /** Listens to progress and campaign ends; returns the function that stops listening. */
  subscribe(listener: (event: FirmwareEvent) => void): () => void;
}

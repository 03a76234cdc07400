/**
 * Small in-test implementations of the service contracts the REST API serves (the real ones live
 * elsewhere): a firmware service that plays a campaign out on real timers, and memory stores.
 */
import { createHash } from 'node:crypto';
import type {
  BootstrapConfig,
  BootstrapConfigStore,
  CampaignOptions,
  CampaignStatus,
  DeviceCampaignStatus,
  EndpointCredentials,
  FirmwareEvent,
  FirmwareImageInfo,
  FirmwareService,
  SecurityStore,
} from '@thimble/lwm2m';

export interface FakeOutcome {
  /** How the device ends (default succeeded). */
  readonly state?: 'succeeded' | 'failed';
  readonly error?: string;
  readonly updateResult?: number;
}

/**
 * Campaigns progress in 4 steps of `stepMs` (downloading 0…100 %), then `updating`, then the outcome
 * for the endpoint in `outcomes` (default success).
 */
export class FakeFirmwareService implements FirmwareService {
  readonly stored = new Map<string, { info: FirmwareImageInfo; data: Uint8Array }>();
  private readonly all = new Map<string, CampaignStatus>();
  private readonly listeners = new Set<(e: FirmwareEvent) => void>();
  private next = 1;

  constructor(
    readonly outcomes: { [endpoint: string]: FakeOutcome } = {},
    public stepMs = 10,
  ) {}

  get listenerCount(): number {
    return this.listeners.size;
  }

  async addImage(name: string, data: Uint8Array): Promise<FirmwareImageInfo> {
    const info: FirmwareImageInfo = {
      id: `img${this.next++}`,
      name,
      size: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
      createdAt: Date.now(),
    };
    this.stored.set(info.id, { info, data: data.slice() });
    return info;
  }

  image(id: string): FirmwareImageInfo | undefined {
    return this.stored.get(id)?.info;
  }

  images(): FirmwareImageInfo[] {
    return [...this.stored.values()].map((i) => i.info);
  }

  startCampaign(options: CampaignOptions): CampaignStatus {
    const image = this.image(options.imageId);
    if (image === undefined) throw new Error(`no image "${options.imageId}"`);
    if (options.targets.length === 0) throw new Error('no targets');
    const id = `c${this.next++}`;
    const status: CampaignStatus = {
      id,
      imageId: image.id,
      method: options.method,
      state: 'running',
      createdAt: Date.now(),
      succeeded: 0,
      failed: 0,
      devices: options.targets.map((endpoint) => ({
        endpoint,
        state: 'pending',
        bytesSent: 0,
        totalBytes: image.size,
        attempts: 0,
      })),
    };
    this.all.set(id, status);
    for (const endpoint of options.targets) this.play(id, endpoint, image.size);
    return status;
  }

  campaign(id: string): CampaignStatus | undefined {
    return this.all.get(id);
  }

  campaigns(): CampaignStatus[] {
    return [...this.all.values()];
  }

  subscribe(listener: (event: FirmwareEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private play(campaignId: string, endpoint: string, size: number): void {
    const outcome = this.outcomes[endpoint] ?? {};
    const steps: Partial<DeviceCampaignStatus>[] = [
      { state: 'downloading', bytesSent: 0, attempts: 1 },
      { state: 'downloading', bytesSent: Math.floor(size / 2) },
      { state: 'downloaded', bytesSent: size },
      { state: 'updating' },
      {
        state: outcome.state ?? 'succeeded',
        ...(outcome.error === undefined ? {} : { error: outcome.error }),
        updateResult: outcome.updateResult ?? 1,
      },
    ];
    let i = 0;
    const step = () => {
      this.update(campaignId, endpoint, steps[i++]!);
      if (i < steps.length) setTimeout(step, this.stepMs);
    };
    setTimeout(step, this.stepMs);
  }

  private update(campaignId: string, endpoint: string, change: Partial<DeviceCampaignStatus>): void {
    const c = this.all.get(campaignId)!;
    const devices = c.devices.map((d) => (d.endpoint === endpoint ? { ...d, ...change } : d));
    const device = devices.find((d) => d.endpoint === endpoint)!;
    const finished = devices.every((d) => d.state === 'succeeded' || d.state === 'failed');
    const next: CampaignStatus = {
      ...c,
      devices,
      succeeded: devices.filter((d) => d.state === 'succeeded').length,
      failed: devices.filter((d) => d.state === 'failed').length,
      ...(finished ? { state: 'finished', finishedAt: Date.now() } : {}),
    };
    this.all.set(campaignId, next);
    this.emit({ type: 'progress', campaignId, ...device });
    if (finished) this.emit({ type: 'campaign-finished', campaign: next });
  }

  private emit(e: FirmwareEvent): void {
    for (const l of this.listeners) l(e);
  }
}

export class FakeSecurityStore implements SecurityStore {
  private readonly byEndpoint = new Map<string, EndpointCredentials>();

  get(endpoint: string): EndpointCredentials | undefined {
    return this.byEndpoint.get(endpoint);
  }
  getByPskIdentity(identity: string): EndpointCredentials | undefined {
    return this.list().find((c) => c.psk?.identity === identity);
  }
  getByOscoreKid(kidHex: string): EndpointCredentials | undefined {
    return this.list().find((c) => c.oscore?.recipientId === kidHex);
  }
  getByRpk(publicKeyHex: string): EndpointCredentials | undefined {
    return this.list().find((c) => c.rpk?.publicKey === publicKeyHex);
  }
  put(credentials: EndpointCredentials): void {
    const psk = credentials.psk && this.getByPskIdentity(credentials.psk.identity);
    if (psk !== undefined && psk.endpoint !== credentials.endpoint)
      throw new Error(`PSK identity "${credentials.psk!.identity}" belongs to "${psk.endpoint}"`);
    this.byEndpoint.set(credentials.endpoint, credentials);
  }
  remove(endpoint: string): boolean {
    return this.byEndpoint.delete(endpoint);
  }
  list(): EndpointCredentials[] {
    return [...this.byEndpoint.values()];
  }
}

export class FakeBootstrapStore implements BootstrapConfigStore {
  private readonly configs = new Map<string, BootstrapConfig>();

  get(endpoint: string): BootstrapConfig | undefined {
    return this.configs.get(endpoint);
  }
  set(endpoint: string, config: BootstrapConfig): void {
    for (const s of Object.values(config.security))
      if (s.securityMode === 'psk' && (s.pskIdentity === undefined || s.pskKey === undefined))
        throw new Error(`${s.uri}: psk needs pskIdentity and pskKey`);
    this.configs.set(endpoint, config);
  }
  delete(endpoint: string): boolean {
    return this.configs.delete(endpoint);
  }
  list(): { endpoint: string; config: BootstrapConfig }[] {
    return [...this.configs].map(([endpoint, config]) => ({ endpoint, config }));
  }
}

/**
 * The in-memory `BootstrapConfigStore` (portable). Configurations are validated when stored and kept as
 * frozen copies, so a caller cannot change one behind the store's back.
 */
import { validateBootstrapConfig } from '../../bootstrap/config.js';
import type { BootstrapConfig, BootstrapConfigStore } from '../../bootstrap/types.js';

/** Longest endpoint name a store accepts (the registration interface's default bound). */
export const MAX_BOOTSTRAP_ENDPOINT_LENGTH = 128;

export function checkBootstrapEndpoint(endpoint: unknown): string {
  if (typeof endpoint !== 'string' || endpoint === '' || endpoint.length > MAX_BOOTSTRAP_ENDPOINT_LENGTH)
    throw new Error(`an endpoint name is 1–${MAX_BOOTSTRAP_ENDPOINT_LENGTH} characters`);
  return endpoint;
}

export class MemoryBootstrapConfigStore implements BootstrapConfigStore {
  protected readonly configs = new Map<string, BootstrapConfig>();

  constructor(initial?: Readonly<Record<string, unknown>>) {
    if (initial !== undefined)
      for (const ep of Object.keys(initial)) this.set(ep, initial[ep] as BootstrapConfig);
  }

  get(endpoint: string): BootstrapConfig | undefined {
    return this.configs.get(endpoint);
  }

  set(endpoint: string, config: BootstrapConfig): void {
    this.configs.set(checkBootstrapEndpoint(endpoint), validateBootstrapConfig(config));
  }

  delete(endpoint: string): boolean {
    return this.configs.delete(endpoint);
  }

  list(): { readonly endpoint: string; readonly config: BootstrapConfig }[] {
    return [...this.configs].map(([endpoint, config]) => ({ endpoint, config }));
  }
}

/**
 * `JsonFileBootstrapConfigStore`: bootstrap configurations in one JSON file, `{ "<endpoint>": BootstrapConfig }`,
 * read when the store is made and written again (atomically: a temporary file in the same folder, flushed,
 * then renamed over the old one) after each change. Node only.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import type { BootstrapConfig } from '../bootstrap/types.js';
import { MemoryBootstrapConfigStore } from '../server/bootstrap/store.js';

export class JsonFileBootstrapConfigStore extends MemoryBootstrapConfigStore {
  private counter = 0;

  /**
   * Loads `file` (a missing file is an empty store). Throws when the file is not JSON or holds an
   * inconsistent configuration (the message names the endpoint).
   */
  constructor(readonly file: string) {
    super();
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (text === undefined) return;
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new Error(`${file}: not JSON (${(e as Error).message})`);
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data))
      throw new Error(`${file}: expected an object keyed by endpoint name`);
    for (const ep of Object.keys(data)) {
      try {
        super.set(ep, (data as Record<string, BootstrapConfig>)[ep]!);
      } catch (e) {
        throw new Error(`${file}: endpoint "${ep}": ${(e as Error).message}`);
      }
    }
  }

  override set(endpoint: string, config: BootstrapConfig): void {
    const previous = this.get(endpoint);
    super.set(endpoint, config);
    try {
      this.save();
    } catch (e) {
      // the file is the truth: memory goes back to what it holds
      if (previous === undefined) super.delete(endpoint);
      else this.configs.set(endpoint, previous);
      throw e;
    }
  }

  override delete(endpoint: string): boolean {
    const previous = this.get(endpoint);
    if (!super.delete(endpoint)) return false;
    try {
      this.save();
    } catch (e) {
      this.configs.set(endpoint, previous!);
      throw e;
    }
    return true;
  }

  private save(): void {
    const data: Record<string, BootstrapConfig> = {};
    for (const { endpoint, config } of this.list()) data[endpoint] = config;
    const tmp = `${this.file}.${process.pid}.${this.counter++}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(data, null, 2)}\n`);
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      try {
        unlinkSync(tmp);
      } catch {
        // already gone
      }
      throw e;
    }
    closeSync(fd);
    renameSync(tmp, this.file);
  }
}

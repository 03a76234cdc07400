/**
 * `--oscore CONTEXT_DIR` for the `coap` command (Node adapter). @thimble/oscore depends on this package, so
 * the CLI loads it at run time, by name, instead of importing it: coap-core keeps no dependency on it.
 */
import type { ClientSecurity, ServerSecurity } from '../security/types.js';

/** The part of @thimble/oscore (+ /node) the CLI uses. */
interface OscoreModule {
  oscoreClient(context: unknown): ClientSecurity;
  oscoreServer(contexts: readonly unknown[]): ServerSecurity;
}
interface OscoreNodeModule {
  loadContextDirectory(dir: string): { context: unknown; restarted: boolean };
}

export interface CliOscore {
  readonly client: ClientSecurity;
  readonly server: ServerSecurity;
  /** The directory had been used before: the replay window counts as lost (Echo recovery). */
  readonly restarted: boolean;
}

/** Thrown when the context directory cannot be used; the message says why. */
export class OscoreSetupError extends Error {}

// Module names in variables: resolved at run time only (by Node, or by the test runner's aliases)
const OSCORE = '@thimble/oscore';
const OSCORE_NODE = '@thimble/oscore/node';

/**
 * Loads the OSCORE security context of an aiocoap-compatible context directory (settings.json, with the
 * sequence number state in sequence.json beside it).
 */
export async function loadCliOscore(dir: string): Promise<CliOscore> {
  let oscore: OscoreModule;
  let node: OscoreNodeModule;
  try {
    oscore = (await import(OSCORE)) as OscoreModule;
    node = (await import(OSCORE_NODE)) as OscoreNodeModule;
  } catch (e) {
    throw new OscoreSetupError(`--oscore needs the @thimble/oscore package (${(e as Error).message})`);
  }
  let loaded: { context: unknown; restarted: boolean };
  try {
    loaded = node.loadContextDirectory(dir);
  } catch (e) {
    throw new OscoreSetupError(`--oscore ${dir}: ${(e as Error).message}`);
  }
  return {
    client: oscore.oscoreClient(loaded.context),
    server: oscore.oscoreServer([loaded.context]),
    restarted: loaded.restarted,
  };
}

/**
 * `--oscore CONTEXT_DIR` for the `coap` command (Node adapter): the OSCORE security context of an
 * aiocoap-compatible context directory, as the endpoint's client and server security layers (RFC 8613).
 */
import type { ClientSecurity, ServerSecurity } from '@thimble/coap-core';
import { oscoreClient, oscoreServer } from '@thimble/oscore';
import { type LoadedContext, loadContextDirectory } from '@thimble/oscore/node';

export interface CliOscore {
  readonly client: ClientSecurity;
  readonly server: ServerSecurity;
  /** The directory had been used before: the replay window counts as lost (Echo recovery). */
  readonly restarted: boolean;
}

/** Thrown when the context directory cannot be used; the message says why. */
export class OscoreSetupError extends Error {}

/**
 * Loads the OSCORE security context of an aiocoap-compatible context directory (settings.json, with the
 * sequence number state in sequence.json beside it).
 */
export async function loadCliOscore(dir: string): Promise<CliOscore> {
  let loaded: LoadedContext;
  try {
    loaded = loadContextDirectory(dir);
  } catch (e) {
    throw new OscoreSetupError(`--oscore ${dir}: ${(e as Error).message}`);
  }
  return {
    client: oscoreClient(loaded.context),
    server: oscoreServer([loaded.context]),
    restarted: loaded.restarted,
  };
}

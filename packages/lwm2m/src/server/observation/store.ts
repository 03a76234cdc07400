/**
 * Observations as plain data, so a restarted server can take them up again: notifications a device keeps
 * sending with the token of an observation it was given before the restart are delivered as before
 * (RFC 7641 §3.3.1 lets the observer renew with the same token). The `ObservationStore` interface has an
 * in-memory default; `openSqliteStores` (Node) keeps them in SQLite next to the registrations.
 */

/** One observation the server holds (Core §6.4.1 Observe, §6.4.3 Observe-Composite). */
export interface StoredObservation {
  /** The CoAP token, hex. */
  readonly token: string;
  readonly registrationId: string;
  readonly endpoint: string;
  /** Observed paths as text (`/3/0/1`); one unless composite. */
  readonly paths: readonly string[];
  /** Observe-Composite (FETCH with a SenML path list) or Observe (GET). */
  readonly composite: boolean;
  /** Content format asked for (Accept); for a composite also the format of the path list. */
  readonly format: number;
  /** Clock time (ms) the observation was established. */
  readonly createdAt: number;
}

/** Where observations live. Synchronous, like `RegistrationStore`. */
export interface ObservationStore {
  readonly size: number;
  /** Adds or replaces by token. */
  put(observation: StoredObservation): void;
  /** Removes by token; true when it was there. */
  remove(token: string): boolean;
  list(): StoredObservation[];
}

/** Observations in memory (they end with the process, as the CoAP exchanges do). */
export class MemoryObservationStore implements ObservationStore {
  private readonly byToken = new Map<string, StoredObservation>();

  get size(): number {
    return this.byToken.size;
  }

  put(observation: StoredObservation): void {
    this.byToken.set(observation.token, observation);
  }

  remove(token: string): boolean {
    return this.byToken.delete(token);
  }

  list(): StoredObservation[] {
    return [...this.byToken.values()];
  }
}

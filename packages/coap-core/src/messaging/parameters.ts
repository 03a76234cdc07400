/** CoAP transmission parameters (RFC 7252 §4.8) and the derived times (§4.8.2). All times in ms. */
export interface TransmissionParameters {
  readonly ackTimeout: number;
  readonly ackRandomFactor: number;
  readonly maxRetransmit: number;
  readonly nstart: number;
  readonly defaultLeisure: number;
  /** Bytes per second towards a peer that does not answer (§4.7). */
  readonly probingRate: number;
  readonly maxLatency: number;
  readonly processingDelay: number;
}

/** The RFC's defaults (§4.8, §4.8.2). */
export const DEFAULT_TRANSMISSION_PARAMETERS: TransmissionParameters = {
  ackTimeout: 2000,
  ackRandomFactor: 1.5,
  maxRetransmit: 4,
  nstart: 1,
  defaultLeisure: 5000,
  probingRate: 1,
  maxLatency: 100_000,
  processingDelay: 2000,
};

/** MAX_TRANSMIT_SPAN = ACK_TIMEOUT × (2^MAX_RETRANSMIT − 1) × ACK_RANDOM_FACTOR (45 s by default). */
export function maxTransmitSpan(p: TransmissionParameters): number {
  return p.ackTimeout * (2 ** p.maxRetransmit - 1) * p.ackRandomFactor;
}

/** MAX_TRANSMIT_WAIT = ACK_TIMEOUT × (2^(MAX_RETRANSMIT + 1) − 1) × ACK_RANDOM_FACTOR (93 s). */
export function maxTransmitWait(p: TransmissionParameters): number {
  return p.ackTimeout * (2 ** (p.maxRetransmit + 1) - 1) * p.ackRandomFactor;
}

/** EXCHANGE_LIFETIME = MAX_TRANSMIT_SPAN + 2 × MAX_LATENCY + PROCESSING_DELAY (247 s). */
export function exchangeLifetime(p: TransmissionParameters): number {
  return maxTransmitSpan(p) + 2 * p.maxLatency + p.processingDelay;
}

/** NON_LIFETIME = MAX_TRANSMIT_SPAN + MAX_LATENCY (145 s). */
export function nonLifetime(p: TransmissionParameters): number {
  return maxTransmitSpan(p) + p.maxLatency;
}

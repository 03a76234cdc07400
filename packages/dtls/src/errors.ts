/**
 * Typed DTLS errors. Every parser throws a `DtlsError` with a `reason`, and every failed handshake or closed
 * session reports one, so the layers above can tell a wrong key from an unreachable server.
 */

/** Alert descriptions (RFC 5246 §7.2, RFC 4279 §6, RFC 5746 §3.6, RFC 7250). */
export const AlertDescription = {
  closeNotify: 0,
  unexpectedMessage: 10,
  badRecordMac: 20,
  recordOverflow: 22,
  handshakeFailure: 40,
  badCertificate: 42,
  unsupportedCertificate: 43,
  certificateRevoked: 44,
  certificateExpired: 45,
  certificateUnknown: 46,
  illegalParameter: 47,
  unknownCa: 48,
  accessDenied: 49,
  decodeError: 50,
  decryptError: 51,
  protocolVersion: 70,
  insufficientSecurity: 71,
  internalError: 80,
  userCanceled: 90,
  noRenegotiation: 100,
  unsupportedExtension: 110,
  unknownPskIdentity: 115,
} as const;

export type DtlsErrorReason =
  /** The peer's Finished did not verify, or the peer said so (decrypt_error / bad_record_mac): wrong PSK. */
  | 'bad-psk'
  /** The server does not know the PSK identity (unknown_psk_identity), or a PSK lookup found nothing. */
  | 'unknown-identity'
  /** The peer's certificate or raw public key was rejected (bad_certificate, unknown_ca, a bad signature, ...). */
  | 'bad-certificate'
  /** No common cipher suite, curve or parameters (handshake_failure, insufficient_security). */
  | 'handshake-failure'
  /** The handshake did not finish within the caller's timeout. */
  | 'handshake-timeout'
  /** Malformed bytes: a record, a handshake message or an extension. */
  | 'decode-error'
  /** A message arrived that the state machine does not expect now. */
  | 'unexpected-message'
  /** The peer sent a fatal alert that has no more specific reason above; `alert` holds its description. */
  | 'alert'
  /** The session was closed (close_notify, `close()`, idle timeout or the transport closing). */
  | 'closed'
  /** A limit was reached (sessions, handshakes in progress, message sizes). */
  | 'limit'
  /** The operation was aborted through an AbortSignal. */
  | 'aborted'
  /** An internal failure (a crypto provider error). */
  | 'internal';

export class DtlsError extends Error {
  override readonly name = 'DtlsError';
  constructor(
    readonly reason: DtlsErrorReason,
    message: string,
    /** The alert description received or sent, when the error comes with one. */
    readonly alert?: number,
  ) {
    super(message);
  }
}

/** The alert we send for a local failure reason (RFC 5246 §7.2.2). */
export function alertForReason(reason: DtlsErrorReason): number {
  switch (reason) {
    case 'bad-psk':
      return AlertDescription.decryptError;
    case 'unknown-identity':
      return AlertDescription.unknownPskIdentity;
    case 'bad-certificate':
      return AlertDescription.badCertificate;
    case 'handshake-failure':
      return AlertDescription.handshakeFailure;
    case 'decode-error':
      return AlertDescription.decodeError;
    case 'unexpected-message':
      return AlertDescription.unexpectedMessage;
    case 'closed':
      return AlertDescription.closeNotify;
    default:
      return AlertDescription.internalError;
  }
}

/** Maps a fatal alert received from the peer to an error reason. */
export function reasonForAlert(description: number): DtlsErrorReason {
  switch (description) {
    case AlertDescription.decryptError:
    case AlertDescription.badRecordMac:
      return 'bad-psk';
    case AlertDescription.unknownPskIdentity:
      return 'unknown-identity';
    case AlertDescription.badCertificate:
    case AlertDescription.unsupportedCertificate:
    case AlertDescription.certificateRevoked:
    case AlertDescription.certificateExpired:
    case AlertDescription.certificateUnknown:
    case AlertDescription.unknownCa:
      return 'bad-certificate';
    case AlertDescription.handshakeFailure:
    case AlertDescription.insufficientSecurity:
      return 'handshake-failure';
    case AlertDescription.decodeError:
      return 'decode-error';
    case AlertDescription.unexpectedMessage:
      return 'unexpected-message';
    case AlertDescription.closeNotify:
      return 'closed';
    default:
      return 'alert';
  }
}

/** A human-readable alert name for messages and logs. */
export function alertName(description: number): string {
  for (const [name, value] of Object.entries(AlertDescription)) if (value === description) return name;
  return `alert(${description})`;
}

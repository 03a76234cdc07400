/**
 * The common base of the package's errors: every error `@thimble/lwm2m` throws on purpose is an
 * `Lwm2mError` with a machine-readable `reason` (one union per subclass, e.g. `Lwm2mServerErrorReason`),
 * so a caller can catch the package's errors as one family and still tell them apart by class and reason.
 */
export class Lwm2mError<Reason extends string = string> extends Error {
  override readonly name: string = 'Lwm2mError';
  readonly reason: Reason;
  constructor(reason: Reason, message: string, options?: { readonly cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
  }
}

/** A command-line mistake: `coap` prints it with the usage and exits with 64. */
export class UsageError extends Error {}

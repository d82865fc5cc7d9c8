// What can go wrong in the `sessiond` command, as values with the exit code each one ends with.
// main.ts prints the message (one line, no stack) and exits with the code.

/** Exit codes of the command itself (wait exits with the session's code instead). */
export const EXIT = {
  ok: 0,
  /** The service refused, failed, or could not be reached. */
  failed: 1,
  /** The command line was wrong (unknown option, missing argument). */
  usage: 2,
  /** `wait --timeout` ran out while the session was still live (as timeout(1) answers). */
  timedOut: 124,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(
    message: string,
    /** The command whose help to point at. */
    readonly command?: string,
  ) {
    super(message, EXIT.usage);
    this.name = 'UsageError';
  }
}

/** A problem+json answer of the service: its code, status and detail. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(`${detail} (${code}, HTTP ${status})`);
    this.name = 'ApiError';
  }
}

/** The service did not answer at all (refused, reset, DNS, TLS). */
export class UnreachableError extends CliError {
  constructor(url: string, cause: string) {
    super(`cannot reach sessiond at ${url}: ${cause}. Is it running (sessiond serve)? Set SESSIOND_URL to its address.`);
    this.name = 'UnreachableError';
  }
}

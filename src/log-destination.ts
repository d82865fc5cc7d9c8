// Where the service log goes: JSON lines on stdout (for collectors), or, with
// SESSIOND_LOG_FORMAT=pretty, coloured lines for people through pino-pretty, in the same process.
import type { DestinationStream } from 'pino';
import pretty from 'pino-pretty';
import type { LogFormat } from './config.js';

/** undefined: pino's own stdout destination. */
export function logDestination(format: LogFormat): DestinationStream | undefined {
  if (format !== 'pretty') return undefined;
  return pretty({
    translateTime: 'SYS:HH:MM:ss.l',
    // The request line's message already says method, URL, status and time.
    ignore: 'pid,hostname,request',
    // Written as it comes: a line logged just before the process exits is not lost.
    sync: true,
  });
}

// Where the service is and which token to send: SESSIOND_URL and SESSIOND_TOKEN, or, for a
// service on this machine, the token it generated in its data directory (<data dir>/token).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isLoopback, type CliConfig } from '../config.js';

export interface Connection {
  url: string;
  token: string | null;
  /** Where the token came from, for the message when the service refuses it. */
  tokenFrom: 'SESSIOND_TOKEN' | 'token file' | null;
}

const TOKEN_FILE = 'token';

export async function resolveConnection(config: CliConfig): Promise<Connection> {
  if (config.token) return { url: config.url, token: config.token, tokenFrom: 'SESSIOND_TOKEN' };
  const host = new URL(config.url).hostname.replace(/^\[|\]$/g, '');
  // Only for a local service: a token file names this machine's service, not a remote one.
  if (isLoopback(host)) {
    const text = await readFile(path.join(config.dataDir, TOKEN_FILE), 'utf8').catch(() => null);
    const token = text?.trim();
    if (token) return { url: config.url, token, tokenFrom: 'token file' };
  }
  return { url: config.url, token: null, tokenFrom: null };
}

/** What to do about a 401, said in the terms of where the token came from. */
export function tokenHint(connection: Connection, dataDir: string): string {
  if (connection.tokenFrom === 'SESSIOND_TOKEN') return 'SESSIOND_TOKEN is not a token this service accepts';
  if (connection.tokenFrom === 'token file') return `the token in ${path.join(dataDir, TOKEN_FILE)} is not one this service accepts: set SESSIOND_TOKEN`;
  return `set SESSIOND_TOKEN (or, on the service's machine, SESSIOND_DATA_DIR to its data directory, whose token file is then used)`;
}

// The webhook endpoints on disk: `<dataDir>/webhooks/<id>/endpoint.json` (mode 0600: it holds the
// secret), next to that endpoint's outbox.jsonl and deliveries.jsonl, in a folder of mode 0700.
// endpoint.json is written last on creation and removed first on deletion, so a folder without
// one is a creation or deletion a crash cut short, and loading finishes the deletion.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { WEBHOOK_ID_PATTERN, WebhookRecordSchema, type Webhook, type WebhookRecord } from '../../../schemas/webhooks.js';
import { errnoCode, fsyncDir, writeFileAtomic } from '../../store/atomic-write.js';
import { maskUrl } from './url.js';

export const ENDPOINT_FILE = 'endpoint.json';
export const OUTBOX_FILE = 'outbox.jsonl';
export const DELIVERIES_FILE = 'deliveries.jsonl';

const ID_RE = new RegExp(WEBHOOK_ID_PATTERN);

interface RegistryLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const webhooksRoot = (dataDir: string) => join(dataDir, 'webhooks');
export const endpointDir = (root: string, id: string) => join(root, id);

/** `wh_` and 20 base36 characters (about 103 bits). */
export function newWebhookId(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  let id = 'wh_';
  for (const byte of randomBytes(20)) id += alphabet[byte % 36];
  return id;
}

/** The public resource: the URL's credentials masked, no secret, no internal state. */
export function toWebhook(record: WebhookRecord): Webhook {
  return {
    id: record.id,
    url: maskUrl(record.url),
    types: record.types ? [...record.types] : null,
    labels: { ...record.labels },
    description: record.description,
    created_at: record.created_at,
  };
}

/** Every readable endpoint, oldest first. A damaged endpoint.json is logged and left for the operator. */
export async function loadEndpoints(root: string, log: RegistryLog): Promise<WebhookRecord[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const records: WebhookRecord[] = [];
  for (const name of names) {
    if (!ID_RE.test(name)) continue;
    const file = join(root, name, ENDPOINT_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      log.info({ webhook_id: name }, 'webhook folder without endpoint.json (a cut-short create or delete): removing it');
      await rm(join(root, name), { recursive: true, force: true });
      continue;
    }
    const record = parseRecord(text);
    if (!record || record.id !== name) {
      log.error({ webhook_id: name }, 'webhook endpoint.json is damaged: left out (nothing is delivered to it)');
      continue;
    }
    records.push(record);
  }
  return records.sort((a, b) => (a.created_at === b.created_at ? (a.id < b.id ? -1 : 1) : a.created_at < b.created_at ? -1 : 1));
}

/** Creates the endpoint's folder and writes its record (atomically, mode 0600). */
export async function saveEndpoint(root: string, record: WebhookRecord): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const dir = endpointDir(root, record.id);
  await mkdir(dir, { mode: 0o700 });
  await writeFileAtomic(join(dir, ENDPOINT_FILE), JSON.stringify(record), { mode: 0o600 });
  await fsyncDir(root);
}

/** Removes the endpoint: its record first (from then on it is gone, even after a crash), then the rest. */
export async function removeEndpoint(root: string, id: string): Promise<void> {
  const dir = endpointDir(root, id);
  try {
    await unlink(join(dir, ENDPOINT_FILE));
    await fsyncDir(dir);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  await rm(dir, { recursive: true, force: true });
}

function parseRecord(text: string): WebhookRecord | null {
  try {
    const value: unknown = JSON.parse(text);
    return Value.Check(WebhookRecordSchema, value) ? value : null;
  } catch {
    // Not JSON: damaged, which the caller reports.
    return null;
  }
}

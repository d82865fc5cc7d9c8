// Bench section: listing and restart at scale. Two data folders are written directly (as a
// service would have left them): STORED sessions and SMALL sessions, ended, each with ARG_BYTES of
// arguments, a mission and a label out of FILTER_KINDS. A sessiond on each; pages of GET
// /v1/sessions are timed one request at a time (alternating pairs), so the rows read as "a page
// at 10,000 against the same page at 100". Then: the big store's first page against a bare
// Fastify route answering that page's JSON; the start of the big store against an empty one;
// its RSS against the small store's; five concurrent starts sharing one Idempotency-Key.
import fs from 'node:fs/promises';
import path from 'node:path';
import { measureGets } from './get-throughput.js';
import { bareFastify } from './get-session.js';
import { children, fmt, median, msSince, now, paired, pool, rssKiB, scopedSessiond, startSessiond, type Row, type Sessiond, type SessiondOptions } from './lib.js';
import { makeMetadata, makeRecord } from '../test/fakes/records.js';
import { newSessionId } from '../src/sessions/ids.js';

const STORED = 10_000;
const SMALL = 100;
const ARG_BYTES = 4096;
const FILTER_KINDS = 5;
const PAIRS = 5;
const RUN_MS = 600;
const RESTARTS = 2;

/** A prompt-like argument of about `bytes` characters. */
const PROMPT = 'Summarise the repository, list its open questions and propose next steps. '.repeat(Math.ceil(ARG_BYTES / 75)).slice(0, ARG_BYTES);

/** Writes `n` ended sessions under `dataDir`, the store's layout, without fsyncs. Returns the bytes of one session.json. */
export async function seed(dataDir: string, n: number): Promise<number> {
  const sessions = path.join(dataDir, 'sessions');
  await fs.mkdir(sessions, { recursive: true, mode: 0o700 });
  const newest = Date.now() - 60_000;
  let recordBytes = 0;
  await pool(n, 16, async (i) => {
    const started = new Date(newest - (n - i) * 1000);
    const id = newSessionId(`scale ${i}`, started);
    const dir = path.join(sessions, id);
    const args = ['--print', '--verbose', PROMPT];
    const common = { id, name: `scale ${i}`, mission_id: `mission-${i % FILTER_KINDS}`, args, working_directory: '/srv/workspace', command: 'claude' };
    const record = makeRecord({
      ...common,
      status: 'exited',
      exit_code: 0,
      pid: null,
      handle: null,
      started_at: started.toISOString(),
      stopped_at: new Date(started.getTime() + 500).toISOString(),
      log_path: path.join(dir, 'stdout.log'),
      stderr_path: path.join(dir, 'stderr.log'),
      labels: { team: `t${i % FILTER_KINDS}` },
    });
    const json = `${JSON.stringify(record, null, 2)}\n`;
    recordBytes = Buffer.byteLength(json);
    await fs.mkdir(dir, { mode: 0o700 });
    await fs.writeFile(path.join(dir, 'session.json'), json, { mode: 0o600 });
    await fs.writeFile(path.join(dir, 'metadata.json'), JSON.stringify(makeMetadata({ ...common, prompt: PROMPT, created_at: record.started_at })), { mode: 0o600 });
    await fs.writeFile(path.join(dir, 'stdout.log'), '', { mode: 0o600 });
    await fs.writeFile(path.join(dir, 'stderr.log'), '', { mode: 0o600 });
  });
  return recordBytes;
}

/** Milliseconds per request, one request at a time for RUN_MS. */
async function msPerPage(sd: Sessiond, query: string): Promise<number> {
  const r = await measureGets(`${sd.url}/v1/sessions?${query}`, { authorization: `Bearer ${sd.token}` }, 1, RUN_MS);
  if (r.errors > 0) throw new Error(`GET /v1/sessions?${query}: ${r.errors} errors`);
  return 1000 / r.perSecond;
}

/** Five concurrent starts with one Idempotency-Key; ms until all five answered. */
async function idempotentBurst(sd: Sessiond, root: string, key: string): Promise<number> {
  const start = now();
  const ids = await Promise.all(
    Array.from({ length: 5 }, async () => {
      const res = await fetch(`${sd.url}/v1/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sd.token}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ name: 'idempotent', working_directory: root, command: 'sleep', args: ['60'] }),
      });
      const body = (await res.json()) as { id?: string };
      if (!res.ok) throw new Error(`idempotent start answered ${res.status}: ${JSON.stringify(body)}`);
      return body.id;
    }),
  );
  const ms = msSince(start);
  if (new Set(ids).size !== 1) throw new Error(`five starts under one Idempotency-Key made ${new Set(ids).size} sessions`);
  await sd.json('POST', `/v1/sessions/${ids[0]}/stop`, { grace_ms: 0 });
  return ms;
}

export async function scale(options: SessiondOptions, base: string): Promise<Row[]> {
  const bigDir = path.join(base, 'scale-big');
  const smallDir = path.join(base, 'scale-small');
  const seeded = now();
  const recordBytes = await seed(bigDir, STORED);
  await seed(smallDir, SMALL);
  process.stderr.write(`  seeded ${STORED} + ${SMALL} sessions in ${fmt(msSince(seeded) / 1000, 1)} s\n`);

  // Start-up with STORED sessions against an empty data folder, alternating.
  const bigStarts: number[] = [];
  const emptyStarts: number[] = [];
  for (let i = 0; i < RESTARTS; i++) {
    const big = await startSessiond({ ...options, dataDir: bigDir });
    children.add(big.child);
    bigStarts.push(big.readyMs);
    await big.stop();
    children.delete(big.child);
    const fresh = path.join(base, `scale-empty-${i}`);
    await fs.mkdir(fresh);
    const blank = await startSessiond({ ...options, dataDir: fresh });
    children.add(blank.child);
    emptyStarts.push(blank.readyMs);
    await blank.stop();
    children.delete(blank.child);
  }

  const big = await scopedSessiond({ ...options, dataDir: bigDir });
  const small = await scopedSessiond({ ...options, dataDir: smallDir });
  try {
    const rows: Row[] = [];
    const pages: Array<[string, string]> = [
      ['first page, limit 50', 'limit=50'],
      [`mission filter (1 in ${FILTER_KINDS}), limit 20`, 'mission_id=mission-3&limit=20'],
      [`label filter (1 in ${FILTER_KINDS}), limit 20`, 'label=team%3Dt2&limit=20'],
      ['status filter matching none, limit 50', 'status=running&limit=50'],
    ];
    for (const [what, query] of pages) {
      // Warm both.
      await msPerPage(big, query);
      await msPerPage(small, query);
      const r = await paired(PAIRS, () => msPerPage(big, query), () => msPerPage(small, query));
      const goal = query.startsWith('limit') ? '<= 1.5' : query.startsWith('status') ? '' : '<= 2';
      rows.push({ what: `list at ${STORED} stored (ms/page): ${what}`, sessiond: fmt(r.ours, 2), reference: `${fmt(r.reference, 2)} (the same page at ${SMALL} stored)`, ratio: r.ratio, goal });
    }
    // A page from the middle of the listing: the walk starts at the cursor.
    let cursor = (await big.json('GET', '/v1/sessions?limit=500')).next_cursor as string;
    for (let i = 0; i < 9; i++) cursor = (await big.json('GET', `/v1/sessions?limit=500&cursor=${cursor}`)).next_cursor as string;
    await msPerPage(big, `limit=50&cursor=${cursor}`);
    const deep = await paired(PAIRS, () => msPerPage(big, `limit=50&cursor=${cursor}`), () => msPerPage(small, 'limit=50'));
    rows.push({ what: `list at ${STORED} stored (ms/page): page 5,000 rows deep`, sessiond: fmt(deep.ours, 2), reference: `${fmt(deep.reference, 2)} (first page at ${SMALL} stored)`, ratio: deep.ratio, goal: '<= 1.5' });

    // Against a bare Fastify route answering the same page JSON (throughput, 8 connections).
    const page = await big.json('GET', '/v1/sessions?limit=50');
    const bare = await bareFastify(base, '/v1/sessions', page);
    try {
      const auth = { authorization: `Bearer ${big.token}` };
      const rate = async (url: string, headers: Record<string, string>) => (await measureGets(url, headers, 8, RUN_MS * 2)).perSecond;
      await rate(`${big.url}/v1/sessions?limit=50`, auth);
      await rate(`${bare.url}/v1/sessions?limit=50`, {});
      const r = await paired(PAIRS, () => rate(`${big.url}/v1/sessions?limit=50`, auth), () => rate(`${bare.url}/v1/sessions?limit=50`, {}));
      rows.push({ what: `list at ${STORED} stored, limit 50 (req/s)`, sessiond: fmt(r.ours, 0), reference: `${fmt(r.reference, 0)} (bare Fastify, same page JSON)`, ratio: r.ratio, goal: '' });
    } finally {
      await bare.stop();
    }

    // Five concurrent starts sharing one Idempotency-Key, at STORED and at SMALL.
    let k = 0;
    await idempotentBurst(big, options.root, `warm-${k++}`);
    await idempotentBurst(small, options.root, `warm-${k++}`);
    const idem = await paired(3, () => idempotentBurst(big, options.root, `key-${k++}`), () => idempotentBurst(small, options.root, `key-${k++}`));
    rows.push({ what: `5 concurrent idempotent starts at ${STORED} stored (ms)`, sessiond: fmt(idem.ours, 0), reference: `${fmt(idem.reference, 0)} (the same at ${SMALL} stored)`, ratio: idem.ratio, goal: '<= 1' });

    rows.push({ what: `start-up with ${STORED} stored: spawn to first list (ms)`, sessiond: fmt(median(bigStarts), 0), reference: `${fmt(median(emptyStarts), 0)} (empty data folder)`, ratio: median(bigStarts) / median(emptyStarts), goal: '<= 3000 ms' });
    const bigRss = (await rssKiB(big.child.pid as number)) / 1024;
    const smallRss = (await rssKiB(small.child.pid as number)) / 1024;
    rows.push({ what: `server RSS with ${STORED} stored (MiB)`, sessiond: fmt(bigRss, 1), reference: `${fmt(smallRss, 1)} (${SMALL} stored, same requests)`, ratio: bigRss / smallRss, goal: '<= 150 MiB' });
    const perSession = ((bigRss - smallRss) * 1024 * 1024) / (STORED - SMALL);
    rows.push({ what: 'memory per stored session (bytes of RSS)', sessiond: fmt(perSession, 0), reference: `${recordBytes} (its session.json on disk)`, ratio: perSession / recordBytes, goal: '' });
    return rows;
  } finally {
    await small.close();
    await big.close();
  }
}

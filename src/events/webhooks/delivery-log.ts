// One endpoint's deliveries log: its latest attempts (bounded), in `deliveries.jsonl`, so
// GET /v1/webhooks/{id}/deliveries shows them after a restart too. Appends are not fsynced: a
// killed process loses none of them (the kernel has the bytes); only a machine crash could drop
// the newest lines, and the outbox, not this log, is what makes delivery reliable.
import { Value } from '@sinclair/typebox/value';
import { WebhookDeliverySchema, type WebhookDelivery } from '../../../schemas/webhooks.js';
import { JsonLinesFile, readJsonLines } from './jsonl-file.js';

export const DELIVERIES_KEPT = 100;

export class DeliveryLog {
  private lines = 0;
  /** An append failed half-way: the next write rewrites the file instead of gluing onto it. */
  private needsRewrite = false;

  private constructor(
    private readonly file: JsonLinesFile,
    private items: WebhookDelivery[],
    private readonly limit: number,
  ) {}

  /** Loads `path` (absent: empty); a damaged file is rewritten with what could be read. */
  static async open(path: string, limit = DELIVERIES_KEPT): Promise<DeliveryLog> {
    const { values, clean } = await readJsonLines(path);
    const valid = values.filter((value): value is WebhookDelivery => Value.Check(WebhookDeliverySchema, value));
    const log = new DeliveryLog(new JsonLinesFile(path, { durable: false }), valid.slice(-limit), limit);
    log.lines = values.length;
    if (!clean || valid.length !== values.length || values.length > 2 * limit) await log.compact();
    return log;
  }

  /** Newest first. */
  list(): WebhookDelivery[] {
    return [...this.items].reverse();
  }

  async record(delivery: WebhookDelivery): Promise<void> {
    this.items.push(delivery);
    if (this.items.length > this.limit) this.items = this.items.slice(-this.limit);
    if (this.needsRewrite) return this.compact();
    try {
      await this.file.append([delivery]);
    } catch (err) {
      this.needsRewrite = true;
      throw err;
    }
    this.lines += 1;
    if (this.lines > 2 * this.limit) await this.compact();
  }

  close(): Promise<void> {
    return this.file.close();
  }

  private async compact(): Promise<void> {
    await this.file.replace(this.items);
    this.lines = this.items.length;
    this.needsRewrite = false;
  }
}

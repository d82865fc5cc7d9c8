// At start-up: the events a crash may have lost. The supervisor writes a record before it appends
// the record's event (so whoever hears an event and reads the session sees the change); a kill -9
// between the two leaves a record whose last change has no event. This finds such records by
// comparing each with the journal's last event for it, and names the event to append. A record
// whose last change is older than everything the journal keeps is left alone (pruned, not lost).
import type { EventType, LifecycleEvent } from '../../schemas/events.js';
import { isTerminalStatus } from '../../schemas/session.js';
import type { EventJournal } from '../events/journal.js';
import type { ListedRecord } from '../store/store.js';

const PAGE = 1000;

/** The event a record's current status was announced with. */
export function eventFor(record: ListedRecord): EventType {
  if (isTerminalStatus(record.status)) return 'session.ended';
  return record.status === 'running' ? 'session.started' : 'session.created';
}

/** When the record last changed status, as far as the record tells. */
function changedAt(record: ListedRecord): string {
  return (isTerminalStatus(record.status) ? record.stopped_at : null) ?? record.started_at;
}

export async function missingEvents<R extends ListedRecord>(journal: EventJournal, records: R[]): Promise<R[]> {
  const last = new Map<string, LifecycleEvent>();
  let oldest: LifecycleEvent | undefined;
  for (let after = journal.oldestSeq() - 1; ; ) {
    const page = await journal.readAfter(after, PAGE);
    if (page.length === 0) break;
    oldest ??= page[0];
    for (const event of page) last.set(event.session.id, event);
    after = page[page.length - 1]?.seq ?? after;
    if (page.length < PAGE) break;
  }
  // An empty journal (a first start, or an upgrade from v1) has nothing to compare with.
  if (!oldest) return [];
  const horizon = Date.parse(oldest.time);
  return records.filter((record) => {
    const seen = last.get(record.id);
    if (seen) return seen.session.status !== record.status;
    return Date.parse(changedAt(record)) >= horizon;
  });
}

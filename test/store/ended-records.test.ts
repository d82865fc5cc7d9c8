// Ended sessions' records without their args: what the index keeps, and the bounded set of whole
// records read back (least recently used out first, never more characters than its bound).
import t from 'tap';
import { isWhole, listedOf, WholeRecords } from '../../src/store/ended-records.js';
import { makeRecord } from '../fakes/records.js';

const ended = (id: string, prompt: string) => makeRecord({ id, status: 'exited', exit_code: 0, pid: null, handle: null, args: ['--print', prompt] });

t.test('listedOf: an ended record without its args (frozen); a live one as it is', async (t) => {
  const live = Object.freeze(makeRecord());
  t.equal(listedOf(live), live, 'live: the same object, args and all');
  const listed = listedOf(ended('a-abc123-xyz', 'p'));
  t.notOk('args' in listed, 'ended: no args');
  t.ok(Object.isFrozen(listed));
  t.equal(isWhole(listed), false);
  t.equal(isWhole(live), true);
});

t.test('WholeRecords: reads args once, hands out the same object, forgets the least recently used past its bound', async (t) => {
  const onDisk = new Map<string, string[]>();
  const reads: string[] = [];
  const wholes = new WholeRecords((id) => {
    reads.push(id);
    return onDisk.get(id);
  }, 100);
  const a = ended('a-abc123-xyz', 'x'.repeat(40));
  const b = ended('b-abc123-xyz', 'y'.repeat(40));
  const c = ended('c-abc123-xyz', 'z'.repeat(40));
  for (const r of [a, b, c]) onDisk.set(r.id, r.args);
  const [la, lb, lc] = [a, b, c].map(listedOf) as [ReturnType<typeof listedOf>, ReturnType<typeof listedOf>, ReturnType<typeof listedOf>];

  const first = wholes.of(la);
  t.same(first, a, 'the whole record');
  t.equal(wholes.of(la), first, 'the same object the second time');
  t.same(reads, [a.id], 'read from disk once');
  wholes.of(lb);
  wholes.of(la); // a is now the most recently used
  wholes.of(lc); // 3 x 47 characters > 100: the least recently used (b) goes
  t.equal(wholes.size, 2);
  reads.length = 0;
  wholes.of(la);
  wholes.of(lb);
  t.same(reads, [b.id], 'a stayed, b was read again');

  const renamed = listedOf({ ...a, name: 'renamed' });
  t.equal(wholes.of(renamed)?.name, 'renamed', 'a newer listed record is not answered with an older whole one');
  onDisk.delete(c.id);
  wholes.forget(c.id);
  t.equal(wholes.of(lc), undefined, 'deleted: undefined');

  const huge = ended('d-abc123-xyz', 'w'.repeat(500));
  wholes.remember(listedOf(huge), huge);
  t.ok(wholes.size <= 2, 'a record larger than the bound is not kept');
});

t.test('WholeRecords: a record read back with keep false is answered but not kept; hits are still served', async (t) => {
  const reads: string[] = [];
  const a = ended('a-abc123-xyz', 'x'.repeat(10));
  const b = ended('b-abc123-xyz', 'y'.repeat(10));
  const wholes = new WholeRecords((id) => (reads.push(id), id === a.id ? a.args : b.args), 1000);
  const [la, lb] = [listedOf(a), listedOf(b)];
  const kept = wholes.of(la);
  t.same(wholes.of(lb, false), b, 'b answered whole');
  t.equal(wholes.size, 1, 'b not kept');
  t.equal(wholes.of(la, false), kept, 'a kept one is still the same object');
  wholes.of(lb, false);
  t.same(reads, [a.id, b.id, b.id], 'b read each time, a once');
});

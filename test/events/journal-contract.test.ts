// One contract, two journals: the file journal and the memory journal must look the same to their callers.
import t from 'tap';
import { createFileJournal } from '../../src/events/file-journal.js';
import type { EventJournal } from '../../src/events/journal.js';
import { runJournalContract } from '../contracts/journal.contract.js';
import { MemoryJournal } from '../fakes/memory-journal.js';
import { tempDir } from '../helper.js';
import { recordingLog } from './helper.js';

runJournalContract(t, 'file journal', async (t, options = {}) => {
  const dataDir = await tempDir(t, 'sessiond-journal-');
  const open = async () => {
    // Small segments, so the contract's few events already span several files.
    const journal = createFileJournal({ dataDir, log: recordingLog(), segmentEvents: 4, ...options });
    await journal.init();
    t.teardown(() => journal.close());
    return journal;
  };
  let journal: EventJournal = await open();
  return {
    journal,
    async reopen() {
      await journal.close();
      journal = await open();
      return journal;
    },
  };
});

runJournalContract(t, 'memory journal', async (t, options = {}) => {
  let journal = new MemoryJournal(options);
  await journal.init();
  return {
    journal,
    async reopen() {
      await journal.close();
      journal = journal.reopen();
      await journal.init();
      return journal;
    },
  };
});

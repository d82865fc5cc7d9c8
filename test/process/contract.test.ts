// The ProcessAdapter contract on the local runtime: real processes under real keepers.
import fs from 'node:fs/promises';
import t from 'tap';
import { createLocalProcessAdapter } from '../../src/process/local.js';
import type { ProcessAdapter } from '../../src/process/adapter.js';
import { CONTRACT_CHECKS, runProcessAdapterContract, type RuntimeUnderTest } from '../contracts/process-adapter.contract.js';
import { shProgram } from '../contracts/sh-programs.js';
import { fixture } from './fixture.js';

runProcessAdapterContract(t, 'local runtime', async (t): Promise<RuntimeUnderTest> => {
  const f = await fixture(t, { checks: CONTRACT_CHECKS });
  let adapter: ProcessAdapter = f.adapter;
  const r: RuntimeUnderTest = {
    get adapter() {
      return adapter;
    },
    real: true,
    runtime: 'local',
    workspace: f.cwd,
    spec: (program, extra = {}) => {
      const { command, args } = shProgram(program);
      return f.spec(command, args, extra);
    },
    launch: async (spec) => {
      const handle = await adapter.launch(spec);
      // The fixture's teardown stops what is left.
      t.teardown(() => adapter.terminate(handle, 100).then(() => undefined));
      return handle;
    },
    output: (spec, stream) => fs.readFile(f.files(spec.sessionId)[stream], 'utf8'),
    restart: async () => {
      await adapter.close();
      adapter = createLocalProcessAdapter({ pollIntervalMs: 50, files: f.files, checks: CONTRACT_CHECKS });
      const next = adapter;
      t.teardown(() => next.close());
      return adapter;
    },
  };
  return r;
});

// The ProcessAdapter contract on the Docker runtime: the contract's sh programs in busybox
// containers of a real engine (skipped, with the reason printed, without one).
import fs from 'node:fs/promises';
import t from 'tap';
import type { ProcessAdapter } from '../../src/process/adapter.js';
import { CONTRACT_CHECKS, runProcessAdapterContract, type RuntimeUnderTest } from '../contracts/process-adapter.contract.js';
import { shProgram } from '../contracts/sh-programs.js';
import { dockerFixture, NO_ENGINE } from './engine.js';

if (NO_ENGINE) {
  t.test('docker runtime', { skip: NO_ENGINE }, async () => undefined);
} else {
  runProcessAdapterContract(t, 'docker runtime', async (t): Promise<RuntimeUnderTest> => {
    const f = await dockerFixture(t, { checks: CONTRACT_CHECKS });
    let adapter: ProcessAdapter = f.adapter;
    return {
      get adapter() {
        return adapter;
      },
      real: true,
      runtime: 'docker',
      workspace: f.cwd,
      spec: (program, extra = {}) => {
        const { command, args } = shProgram(program);
        return f.spec(command, args, { runtime: 'docker', ...extra });
      },
      launch: async (spec) => {
        const handle = await adapter.launch(spec);
        // The fixture's teardown removes the container.
        f.remember(handle);
        return handle;
      },
      output: (spec, stream) => fs.readFile(f.files(spec.sessionId)[stream], 'utf8'),
      restart: async () => {
        adapter = await f.restart();
        return adapter;
      },
    };
  });
}

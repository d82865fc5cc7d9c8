// The ProcessAdapter contract on the fake the route and service tests use: it must keep the
// promises the real runtimes keep, or those tests prove nothing. The driver plays each program
// with the fake's controls (write, exit, ignoreTerm) where a real runtime would run it.
import t from 'tap';
import type { LaunchSpec, ProcessHandle } from '../../src/process/adapter.js';
import { createFakeProcessAdapter } from '../fakes/fake-processes.js';
import { CONTRACT_CHECKS, runProcessAdapterContract, type Program, type RuntimeUnderTest } from './process-adapter.contract.js';

runProcessAdapterContract(t, 'fake runtime', async (): Promise<RuntimeUnderTest> => {
  const outputs = new Map<string, string>();
  const fake = createFakeProcessAdapter({ checks: CONTRACT_CHECKS, onOutput: (id, stream, data) => void outputs.set(`${id}/${stream}`, (outputs.get(`${id}/${stream}`) ?? '') + data) });
  const programs = new Map<string, Program>();
  let n = 0;
  // The fake takes input without reading it: the driver plays echo-input's answer and exit.
  const writeInput = fake.writeInput.bind(fake);
  fake.writeInput = async (handle: ProcessHandle, bytes: Buffer) => {
    const outcome = await writeInput(handle, bytes);
    const id = (handle as { fake_id?: string }).fake_id ?? '';
    if (outcome === 'written' && programs.get(id)?.kind === 'echo-input') {
      await fake.write(id, 'stdout', `got ${bytes.toString('utf8').split('\n')[0]}\n`);
      void fake.exit(id, 0);
    }
    return outcome;
  };
  return {
    adapter: fake,
    real: false,
    runtime: 'local',
    workspace: CONTRACT_CHECKS.workspaceRoots[0] as string,
    spec: (program, extra = {}): LaunchSpec => {
      n += 1;
      void program;
      return { sessionId: `f${n}`, command: 'sh', args: [], cwd: '/', env: {}, ...extra };
    },
    launch: async (spec, program) => {
      if (program.kind === 'missing') fake.failNextLaunch = 'command not found: no-such-program-sessiond';
      const handle = await fake.launch(spec);
      programs.set(spec.sessionId, program);
      if (program.kind === 'ignore-term') {
        fake.ignoreTerm(spec.sessionId);
        await fake.write(spec.sessionId, 'stdout', 'ready\n');
      }
      if (program.kind === 'exit') {
        await fake.write(spec.sessionId, 'stdout', program.stdout);
        await fake.write(spec.sessionId, 'stderr', program.stderr);
        // After the caller's watch is in place: the contract tracks right after the launch.
        setTimeout(() => void fake.exit(spec.sessionId, program.code), 10);
      }
      return handle;
    },
    output: async (spec, stream) => outputs.get(`${spec.sessionId}/${stream}`) ?? '',
    restart: async () => fake,
  };
});

// Tests that need something of the host (a cgroup, a tmpfs, root): outside CI they skip with the
// printed reason when the host lacks it; in CI (process.env.CI set) they run and fail instead,
// because CI runs on a machine that has it, and a skip there would hide a check that was lost.
import type { Test } from 'tap';

/** The `skip` option for a test that cannot run for `reason` (false: it can): never in CI. */
export function skipOutsideCi(reason: string | false): string | false {
  return reason && !process.env.CI ? reason : false;
}

/**
 * True when the test can go on. Otherwise (only reached in CI, where `skipOutsideCi` did not skip)
 * fails `t` with the reason, and the test should return.
 */
export function mustRun(t: Test, reason: string | false): boolean {
  if (!reason) return true;
  t.fail(`CI must run this test, but it cannot run here: ${reason}`);
  return false;
}

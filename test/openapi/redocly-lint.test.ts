// Redocly's recommended ruleset on the committed document: no error, no warning (issue 14). The
// same check CI runs; it reads only the file (no network).
import path from 'node:path';
import t from 'tap';
import { binOf, runTool } from './tools.js';

t.test('redocly lint --extends=recommended: no error and no warning', async (t) => {
  const document = path.join(process.cwd(), 'openapi', 'openapi.json');
  const run = await runTool(binOf('@redocly/cli', 'redocly'), ['lint', document, '--extends=recommended', '--format=json']);
  const report = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as {
    totals: { errors: number; warnings: number };
    problems: Array<{ ruleId: string; message: string; location: Array<{ pointer: string }> }>;
  };
  const said = report.problems.map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
  t.equal(report.totals.errors, 0, `no error${said.length ? `:\n${said.join('\n')}` : ''}`);
  t.equal(report.totals.warnings, 0, 'no warning');
  t.equal(run.code, 0, 'redocly exits 0');
});

// Runs a dev dependency's command-line tool (Redocly, openapi-typescript) as CI would, offline:
// no telemetry, no update check, nothing but the files it is given.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** The path of a package's own bin script, found through its package.json. */
export function binOf(pkg: string, name: string): string {
  const manifest = require.resolve(`${pkg}/package.json`);
  const bin = (JSON.parse(readFileSync(manifest, 'utf8')) as { bin: Record<string, string> }).bin[name];
  if (!bin) throw new Error(`${pkg} has no bin ${name}`);
  return path.join(path.dirname(manifest), bin);
}

export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool's bin with node; resolves with its exit code and output (never rejects on a non-zero exit). */
export function runTool(bin: string, args: string[], cwd = process.cwd()): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      // Redocly: no telemetry, no "new version" look-up; the result must not depend on a network.
      REDOCLY_TELEMETRY: 'off',
      REDOCLY_SUPPRESS_NOTIFICATIONS: 'true',
      REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
      NO_COLOR: '1',
    };
    execFile(process.execPath, [bin, ...args], { cwd, env, timeout: 120_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') return reject(err);
      resolve({ code: err ? Number((err as { code: number }).code) : 0, stdout, stderr });
    });
  });
}

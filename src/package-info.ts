// The package's name, version and license, read once from package.json: the OpenAPI document's
// info and `sessiond --version` say what the package says.
import { readFileSync } from 'node:fs';

export interface PackageInfo {
  name: string;
  version: string;
  license: string;
}

// Compiled, this file is dist/src/package-info.js: package.json is two levels up.
const parsed = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as PackageInfo;

export const PACKAGE: Readonly<PackageInfo> = Object.freeze({ name: parsed.name, version: parsed.version, license: parsed.license });

// The README works on any machine (issue 14, point 8): it names no path of the machine it was
// written on (a home folder, /root, /work, a temporary folder it did not create), and its links
// to the repository's files are relative and name files that exist; its links to its own
// sections name headings it has.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';

const ROOT = process.cwd();
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

interface Link {
  line: number;
  target: string;
}

/** Markdown links and images, reference definitions, and HTML href/src attributes. */
function links(text: string): Link[] {
  const out: Link[] = [];
  text.split('\n').forEach((content, i) => {
    const line = i + 1;
    for (const m of content.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ line, target: m[1] as string });
    for (const m of content.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/g)) out.push({ line, target: m[1] as string });
    for (const m of content.matchAll(/\b(?:href|src)\s*=\s*["']([^"']+)["']/g)) out.push({ line, target: m[1] as string });
  });
  return out;
}

/** Heading anchors as GitHub makes them: lower case, punctuation dropped, spaces to hyphens, -1, -2 for repeats. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = (heading[1] as string)
      .replace(/<[^>]+>/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

t.test('no path of one machine', async (t) => {
  const lines = README.split('\n');
  const personal = lines.flatMap((line, i) => [...line.matchAll(/(?<![\w.-])\/(?:home|Users|root|work)\/[^\s`"')]*/g)].map((m) => `line ${i + 1}: ${m[0]}`));
  t.same(personal, [], 'no /home/, /Users/, /root/ or /work/ path');

  // A temporary folder is fine when the README makes it itself (the walk-through's `mkdir -p`),
  // not when it is one a test or a session left on the author's machine.
  const made = [...README.matchAll(/mkdir -p ((?:\/tmp\/[^\s/]+\S*\s*)+)/g)].flatMap((m) => (m[1] as string).trim().split(/\s+/)).map((p) => p.split('/').slice(0, 3).join('/'));
  const temporary = lines.flatMap((line, i) =>
    [...line.matchAll(/(?<![\w.-])\/tmp\/[^\s`"',)]*/g)]
      .map((m) => m[0])
      .filter((p) => !made.some((root) => p === root || p.startsWith(`${root}/`)))
      .map((p) => `line ${i + 1}: ${p}`),
  );
  t.same(temporary, [], `every /tmp path is under a folder the README creates (${[...new Set(made)].join(', ') || 'none'})`);
  t.notOk(/[A-Z]:\\(?:Users|Documents)/.test(README), 'no Windows profile path');
});

t.test('links to the repository’s files are relative and name files that exist', async (t) => {
  const all = links(README);
  t.ok(all.length > 10, `the README's links were found (${all.length})`);
  const local = all.filter((l) => !/^[a-z][a-z0-9+.-]*:/i.test(l.target) && !l.target.startsWith('#'));
  t.ok(local.length > 0, 'it links to files of the repository');
  for (const { line, target } of local) {
    t.notOk(target.startsWith('/') || target.startsWith('~'), `line ${line}: ${target} is relative`);
    const file = decodeURIComponent(target.split('#')[0] as string);
    t.ok(existsSync(path.resolve(ROOT, file)), `line ${line}: ${target} exists in the repository`);
  }
  const absolute = all.filter((l) => /^file:/i.test(l.target));
  t.same(absolute, [], 'no file: link');
  // A github.com link to a file of this repository would break in a fork or an offline copy.
  const toOwnFiles = all.filter((l) => {
    const m = /^https?:\/\/github\.com\/[^/]+\/[^/]+\/(?:blob|tree|raw)\/[^/]+\/(.+)$/.exec(l.target);
    return m !== null && existsSync(path.resolve(ROOT, (m[1] as string).split('#')[0] as string));
  });
  t.same(toOwnFiles, [], 'files of the repository are not linked through github.com');
});

t.test('links to its own sections name headings it has', async (t) => {
  const have = anchors(README);
  const broken = links(README)
    .filter((l) => l.target.startsWith('#'))
    .filter((l) => !have.has(decodeURIComponent(l.target.slice(1))))
    .map((l) => `line ${l.line}: ${l.target}`);
  t.same(broken, [], 'every #anchor is a heading');
  // Anchors into another Markdown file of the repository, too.
  for (const { line, target } of links(README).filter((l) => /^[^:#]+\.md#/.test(l.target))) {
    const [file, anchor] = target.split('#') as [string, string];
    const other = path.resolve(ROOT, file);
    if (existsSync(other)) t.ok(anchors(readFileSync(other, 'utf8')).has(anchor), `line ${line}: ${target} is a heading of ${file}`);
  }
});

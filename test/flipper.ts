// The working-directory attack, shared by the keeper test and the whole-server test: a folder
// flipped between a real directory and a symlink to an outside folder every 2 ms.

/** coreutils' pwd: getcwd(3), where the process really is. Bash's builtin `pwd -P` re-resolves the
 * path it remembered, through symlinks, when it runs: on a flipping folder it may print the
 * outside folder while the process is inside. */
export const PWD = '/bin/pwd -P';

/** A CommonJS script: flips `<root>/x` until killed; prints `ready`, and `flips N` on SIGTERM. */
export const FLIPPER = `
const fs = require('node:fs');
const [root, outside] = process.argv.slice(2);
const x = root + '/x', dir = root + '/x.dir', link = root + '/x.link';
fs.mkdirSync(x);
fs.symlinkSync(outside, link);
let flips = 0;
let isDir = true;
const flip = () => {
  if (isDir) { fs.renameSync(x, dir); fs.renameSync(link, x); }
  else { fs.renameSync(x, link); fs.renameSync(dir, x); }
  isDir = !isDir;
  flips++;
};
setInterval(flip, 2);
process.stdout.write('ready\\n');
process.on('SIGTERM', () => { process.stdout.write('flips ' + flips + '\\n'); process.exit(0); });
`;

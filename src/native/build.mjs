// Builds the optional native JPEG decoder at install time. It never fails the install: without a C compiler
// or libjpeg-turbo's TurboJPEG headers (Debian: libturbojpeg0-dev) it prints one line and the loader uses
// sharp for every file. IMGSTREAM_SKIP_NATIVE=1 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));

function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c) => c && existsSync(c)) ?? null;
}

function main() {
  if (process.env.IMGSTREAM_SKIP_NATIVE === '1') return 'skipped (IMGSTREAM_SKIP_NATIVE=1)';
  const gyp = nodeGyp();
  if (gyp === null) return 'skipped: node-gyp not found';
  const args = [gyp, 'rebuild', `--directory=${dir}`];
  // Use the running Node's own headers when they are installed, so nothing is downloaded.
  const nodedir = path.resolve(path.dirname(process.execPath), '..');
  if (existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodedir}`);
  const result = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 300_000 });
  if (result.status === 0 && existsSync(path.join(dir, 'build', 'Release', 'imgstream.node'))) return 'built';
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.split('\n').filter((l) => /error|not found/i.test(l)).slice(0, 3);
  return `not built, sharp decodes every file (${output.join(' | ') || result.error?.message || `exit ${result.status}`})`;
}

try {
  console.log(`imgstream: native JPEG decoder ${main()}`);
} catch (err) {
  console.log(`imgstream: native JPEG decoder not built (${err instanceof Error ? err.message : String(err)})`);
}
process.exitCode = 0;

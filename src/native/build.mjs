// The install step: builds the native addon and ends with one line saying whether the JPEG fast path is on.
// It never fails the install. The addon needs only a C compiler (libjpeg-turbo is opened at run time, see
// load.cjs); without one, the prebuilt addon the package ships for its platform is used, if any.
// IMGSTREAM_SKIP_NATIVE=1 skips the build. `--prebuild` (npm pack's prepack) builds the addon and keeps a copy
// in prebuilds/<platform>-<arch>/ for the package.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import native from './load.cjs';

const dir = path.dirname(fileURLToPath(import.meta.url));
const built = path.join(dir, 'build', 'Release', 'imgstream.node');

function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c) => c && existsSync(c)) ?? null;
}

/** Compiles the addon; null when built, else why not. */
function compile() {
  const gyp = nodeGyp();
  if (gyp === null) return 'node-gyp not found';
  const args = [gyp, 'rebuild', `--directory=${dir}`];
  // Use the running Node's own headers when they are installed, so nothing is downloaded.
  const nodedir = path.resolve(path.dirname(process.execPath), '..');
  if (existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodedir}`);
  const result = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 300_000 });
  if (result.status === 0 && existsSync(built)) return null;
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.split('\n').filter((l) => /error|not found/i.test(l)).slice(0, 3);
  return output.join(' | ') || result.error?.message || `exit ${result.status}`;
}

function main() {
  if (process.argv.includes('--prebuild')) {
    const failure = compile();
    if (failure !== null) throw new Error(`the addon does not build: ${failure}`);
    const target = path.join(dir, 'prebuilds', `${process.platform}-${process.arch}`);
    mkdirSync(target, { recursive: true });
    copyFileSync(built, path.join(target, 'imgstream.node'));
    return `prebuilt addon for ${process.platform}-${process.arch} kept in the package`;
  }
  if (process.env.IMGSTREAM_SKIP_NATIVE === '1') return 'native build skipped (IMGSTREAM_SKIP_NATIVE=1)';
  const failure = compile();
  const status = native.loadNative(process.env);
  if (status.addon === null && status.missing === 'addon' && failure !== null) status.reason = `the native addon does not build (${failure})`;
  return native.describeStatus(status);
}

try {
  console.log(`imgstream: ${main()}`);
} catch (err) {
  console.log(`imgstream: JPEG fast path off (${err instanceof Error ? err.message : String(err)})`);
  if (process.argv.includes('--prebuild')) process.exitCode = 1;
}

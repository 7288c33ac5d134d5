'use strict';
// Finds and opens the native addon and the libjpeg-turbo it decodes with: the one place that says where
// both come from, used by the loader (addon.ts) and by the install step (build.mjs). CommonJS, so that the
// install step can use it before TypeScript is compiled.
//
// The addon: the one compiled here at install (build/Release), else the one shipped prebuilt in the package
// for this platform (prebuilds/<platform>-<arch>, made by `npm pack`), so that an install that skips install
// scripts still has it.
// libturbojpeg, opened at run time (no development package at build time):
//   IMGSTREAM_TURBOJPEG=<file>   that file only;
//   IMGSTREAM_TURBOJPEG=system   the system's only (Debian/Ubuntu libturbojpeg0, Homebrew jpeg-turbo);
//   unset                        the copy in the npm package @julusian/jpeg-turbo (an optional dependency:
//                                libjpeg-turbo 3.x with its SIMD, for linux x64/arm64/arm and musl), then the system's.
const path = require('node:path');
const fs = require('node:fs');
const libc = require('detect-libc');

const LIBRARY_ENV = 'IMGSTREAM_TURBOJPEG';
const PACKAGE = '@julusian/jpeg-turbo';

function addonFiles() {
  return [
    { file: path.join(__dirname, 'build', 'Release', 'imgstream.node'), origin: 'built at install' },
    { file: path.join(__dirname, 'prebuilds', `${process.platform}-${process.arch}`, 'imgstream.node'), origin: 'prebuilt' },
  ];
}

// detect-libc reads the ELF interpreter of the running executable (2 KB); process.report.getReport(), the
// obvious way, symbolises the calling thread's stack and costs 6-14 ms in every thread that loads the addon.
function isMusl() {
  return process.platform === 'linux' && libc.familySync() === libc.MUSL;
}

/** The folder of the installed package ${PACKAGE}, or null. */
function packageRoot() {
  try {
    return path.dirname(require.resolve(`${PACKAGE}/package.json`));
  } catch {
    return null;
  }
}

/** The packaged libturbojpeg for this platform, or null. */
function packagedLibrary() {
  if (process.platform !== 'linux') return null; // its macOS and Windows builds link the library into their addon
  const root = packageRoot();
  if (root === null) return null;
  const file = path.join(root, 'prebuilds', `jpeg-turbo-linux-${process.arch}${isMusl() ? '-musl' : ''}`, 'libturbojpeg.so.0');
  return fs.existsSync(file) ? file : null;
}

function systemLibraries() {
  if (process.platform === 'darwin') {
    return ['/opt/homebrew/opt/jpeg-turbo/lib/libturbojpeg.dylib', '/usr/local/opt/jpeg-turbo/lib/libturbojpeg.dylib', 'libturbojpeg.0.dylib'];
  }
  return ['libturbojpeg.so.0'];
}

/** The libraries to try, in order, each with where it comes from. */
function libraryCandidates(env = process.env) {
  const chosen = env[LIBRARY_ENV];
  if (chosen && chosen !== 'system') return [{ file: chosen, origin: `${LIBRARY_ENV}` }];
  const system = systemLibraries().map((file) => ({ file, origin: 'system' }));
  const packaged = chosen === 'system' ? null : packagedLibrary();
  return packaged === null ? system : [{ file: packaged, origin: PACKAGE }, ...system];
}

/** Where an opened library `file` came from, as {@link libraryCandidates} names it. */
function originOf(file, env) {
  const chosen = env[LIBRARY_ENV];
  if (chosen && chosen !== 'system') return LIBRARY_ENV;
  const root = packageRoot();
  return root !== null && file.startsWith(root + path.sep) ? PACKAGE : 'system';
}

/**
 * The addon with a libturbojpeg open, as `{ addon, addonFile, library, origin }`, or `{ addon: null, reason,
 * hint }` saying why not and what to do.
 */
function loadNative(env = process.env) {
  let addon = null;
  let addonFile = null;
  let addonOrigin = null;
  let loadError = null;
  for (const { file, origin } of addonFiles()) {
    if (!fs.existsSync(file)) continue;
    try {
      addon = require(file);
      addonFile = file;
      addonOrigin = origin;
      break;
    } catch (err) {
      loadError = `${path.basename(file)} does not load: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
    }
  }
  if (addon === null) {
    return {
      addon: null,
      missing: 'addon',
      reason: loadError ?? 'the native addon is not built (no C compiler at install time?)',
      hint: 'install a C compiler (Debian/Ubuntu: apt-get install g++ make python3), then run `npm rebuild imgstream`',
    };
  }
  // The library is opened once per process: a thread after the first (each decode worker) finds it open, and
  // searching the candidates again would only cost time.
  const opened = addon.turbojpegPath();
  if (opened !== null) return { addon, addonFile, addonOrigin, library: opened, origin: originOf(opened, env), reason: null, hint: null };
  const failures = [];
  for (const { file, origin } of libraryCandidates(env)) {
    const error = addon.openTurbojpeg(file);
    if (error === null) return { addon, addonFile, addonOrigin, library: addon.turbojpegPath(), origin, reason: null, hint: null };
    failures.push(error);
  }
  const chosen = env[LIBRARY_ENV];
  return {
    addon: null,
    missing: 'library',
    reason: `no libjpeg-turbo found (${failures.join('; ')})`,
    hint: chosen && chosen !== 'system' ? `point ${LIBRARY_ENV} at a libturbojpeg file, or unset it` : `install the optional dependency ${PACKAGE} (npm install ${PACKAGE}@2) or the system library (Debian/Ubuntu: apt-get install libturbojpeg0), or set ${LIBRARY_ENV} to a libturbojpeg file`,
  };
}

/** The libjpeg-turbo version a library file states ("libjpeg-turbo version 3.1.2"), or null. */
function libraryVersion(file) {
  try {
    const text = fs.readFileSync(file).toString('latin1');
    const m = /libjpeg-turbo version (\d+\.\d+\.\d+)/.exec(text);
    return m === null ? null : m[1];
  } catch {
    return null;
  }
}

/** One line for a `loadNative` result (or `{ addon: null, reason, hint }`): the decoder, and when off why and what to do. */
function describeStatus(status) {
  if (status.addon === null) {
    return `JPEG fast path off, sharp decodes every JPEG: ${status.reason}${status.hint ? `; to turn it on: ${status.hint}` : ''}`;
  }
  const version = libraryVersion(status.library);
  return `JPEG fast path on: libjpeg-turbo${version === null ? '' : ` ${version}`} from ${status.origin} (${status.library}; addon ${status.addonOrigin})`;
}

module.exports = { LIBRARY_ENV, PACKAGE, addonFiles, libraryCandidates, loadNative, libraryVersion, describeStatus };

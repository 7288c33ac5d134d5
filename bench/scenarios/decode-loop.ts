/**
 * The decode-only row's loop (`decode-only.c`): built once per source into the bench's cache with the system's C
 * compiler (`CC`, else `cc`), and checked against the TurboJPEG library it will open, before the row is planned.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { nativeStatus } from '../../src/native/addon.js';
import { scriptPath } from './pytorch.js';

/** The TurboJPEG library the row opens: the one the fast path opened, else the system's. */
function libraryName(): string {
  const status = nativeStatus();
  return status.addon !== null ? status.library : 'libturbojpeg.so.0';
}

/** The loop built into `cacheDir` (once per source) and checked against the library, or why not. */
export function prepareDecodeOnly(cacheDir: string): { binary: string; library: string } | { missing: string } {
  const source = scriptPath('decode-only.c');
  if (source === null) return { missing: 'decode-only.c is not in this install' };
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12);
  const binary = path.resolve(cacheDir, `decode-only-${hash}`);
  const library = libraryName();
  try {
    if (!existsSync(binary)) {
      mkdirSync(cacheDir, { recursive: true });
      execFileSync(process.env.CC ?? 'cc', ['-O2', '-std=c11', '-pthread', '-o', binary, source, '-ldl'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
    }
    execFileSync(binary, [library, '1', '/dev/null'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    return { missing: stderr || (err as Error).message };
  }
  return { binary, library };
}


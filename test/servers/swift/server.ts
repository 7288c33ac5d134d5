/**
 * A real S3-compatible object store for the tests: OpenStack Swift with s3api + tempauth (Debian's
 * `python3-swift`, plus `memcached`), started by `launcher.py` on free 127.0.0.1 ports in a temporary folder
 * that also holds its logs. It checks SigV4 signatures, so a wrong secret is rejected as it would be by S3.
 *
 * Start it once per test file (`beforeAll`) and stop it in `afterAll`. If the test process dies instead, the
 * launcher sees its stdin close and stops the servers itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from '../../fixtures/images.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Next to this file, or in the sources when this is the built copy under `dist/test/servers/swift`. */
const LAUNCHER = [path.join(HERE, 'launcher.py'), path.join(HERE, '..', '..', '..', '..', 'test', 'servers', 'swift', 'launcher.py')].find((f) => existsSync(f)) ?? path.join(HERE, 'launcher.py');
/** Debian's interpreter: a python3 earlier on PATH (pyenv, venv) has no swift module. */
const PYTHON = '/usr/bin/python3';

export interface S3TestServer {
  /** `http://127.0.0.1:<port>` of the proxy (the S3 API). */
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** A user of the same account without its rights: the store answers 403 AccessDenied to its every GET. */
  unprivileged: { accessKeyId: string; secretAccessKey: string };
  /** The folder of the servers' logs. */
  logs: string;
  /** Stops every server process and removes the folder. */
  stop(): Promise<void>;
}

function logTail(logs: string): string {
  if (!existsSync(logs)) return '';
  return readdirSync(logs)
    .map((f) => `--- ${f}\n${readFileSync(path.join(logs, f), 'utf8').split('\n').slice(-15).join('\n')}`)
    .join('\n');
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Starts the store and resolves once every server answers its health check. `workers` processes serve it
 * (default 1, enough for the tests; a single Python process caps the store at one core, so a benchmark
 * gives it one per core).
 */
export async function startSwift(opts: { timeoutMs?: number; workers?: number } = {}): Promise<S3TestServer> {
  const timeoutMs = opts.timeoutMs ?? 90_000;
  const workers = opts.workers ?? 1;
  const dir = tempDir('imgstream-swift-');
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found: the S3 tests need Debian's python3-swift and memcached`);
  // A process group of its own: Swift's servers signal their whole group when they stop, which must not
  // reach the test runner. The launcher still ends with this process (it serves until its stdin closes).
  const child = spawn(PYTHON, [LAUNCHER, dir, String(workers)], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    child.stdin.end();
    if (!(await waitForExit(child, 15_000))) {
      child.kill('SIGKILL');
      await waitForExit(child, 5_000);
    }
    removeDir(dir);
  };
  try {
    const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(() => reject(new Error(`Swift not ready after ${timeoutMs} ms`)), timeoutMs);
      child.stdout.setEncoding('utf8').on('data', (s: string) => {
        stdout += s;
        const line = stdout.indexOf('\n');
        if (line >= 0) {
          clearTimeout(timer);
          resolve(JSON.parse(stdout.slice(0, line)) as Record<string, unknown>);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`Swift launcher exited with ${code}: ${stderr.trim()}`));
      });
    });
    return {
      endpoint: ready.endpoint as string,
      region: ready.region as string,
      credentials: { accessKeyId: ready.accessKeyId as string, secretAccessKey: ready.secretAccessKey as string },
      unprivileged: ready.unprivileged as S3TestServer['unprivileged'],
      logs: ready.logs as string,
      stop,
    };
  } catch (err) {
    const tail = logTail(path.join(dir, 'logs'));
    await stop();
    throw new Error(`${(err as Error).message}\n${tail}`);
  }
}

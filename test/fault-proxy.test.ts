/**
 * The fault proxy the network tests rely on: it passes bytes unchanged, adds the latency asked for, and its
 * reset and stall fire once, on the response they match, mid-body.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from './fixtures/fault-proxy.js';

const BODY = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31) & 255));

/** Status and whether the body came back whole and unchanged (toEqual on 200 kB is slow). */
async function fetchOk(url: string): Promise<{ status: number; intact: boolean } | { error: string }> {
  const r = await get(url);
  return 'error' in r ? r : { status: r.status, intact: r.body.equals(BODY) };
}

function get(url: string, timeoutMs = 5000): Promise<{ status: number; body: Buffer } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
  });
}

describe('fault proxy', () => {
  let server: http.Server;
  let proxy: FaultProxy;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      res.setHeader('content-length', BODY.length);
      res.end(BODY);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    proxy = await startFaultProxy(`127.0.0.1:${(server.address() as { port: number }).port}`);
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise((r) => server.close(r));
  });

  it('passes bytes unchanged and adds the round-trip time asked for', async () => {
    expect(await fetchOk(`${proxy.url}/a`)).toEqual({ status: 200, intact: true });
    proxy.setLatency(100);
    const t0 = performance.now();
    expect(await fetchOk(`${proxy.url}/b`)).toEqual({ status: 200, intact: true });
    // One connection set-up and one request: at least one added round trip (no upper bound: loaded machine).
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
    proxy.setLatency(0);
  });

  it('resets the matching response once, after the bytes asked for', async () => {
    proxy.injectOnce({ kind: 'reset', afterBytes: 50_000, match: '/victim' });
    expect(await fetchOk(`${proxy.url}/other`)).toEqual({ status: 200, intact: true });
    const broken = await get(`${proxy.url}/victim`);
    expect('error' in broken ? broken.error : 'completed').toMatch(/ECONNRESET|aborted/);
    expect(await fetchOk(`${proxy.url}/victim`)).toEqual({ status: 200, intact: true });
    expect(proxy.fired).toEqual([{ kind: 'reset', requestLine: 'GET /victim' }]);
  });

  it('stalls a response past the client timeout, then closes it', async () => {
    proxy.injectOnce({ kind: 'stall', afterBytes: 1000, stallMs: 3000 });
    const stalled = await get(`${proxy.url}/slow`, 500);
    expect('error' in stalled ? stalled.error : 'completed').toMatch(/timeout|aborted|ECONNRESET/);
    expect(proxy.fired.at(-1)).toEqual({ kind: 'stall', requestLine: 'GET /slow' });
  });
});

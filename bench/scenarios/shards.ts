/**
 * imgstream reading WebDataset shards (`config.options.source`): `'local'` from the packed folder on disk,
 * `'http'` from a web server on loopback (nginx when installed, else a Node file server, each in a process
 * of its own so that its memory is not the loader's), or `'pack'`: `imgstream pack` of the image folder
 * itself, timed. Loader options in `config.options.loader`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { imageDatasetFromShards, type ShardDatasetOptions } from '../../src/index.js';
import { packShards } from '../../src/shards/pack.js';
import { consume, peakRss, runScenario, type BatchLike } from './common.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function listening(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no server on port ${port}`);
}

/** A web server for `root` on loopback, in its own process. */
async function serve(root: string, work: string): Promise<{ url: string; kind: string; child: ChildProcess }> {
  const port = await freePort();
  const nginx = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
  let child: ChildProcess;
  let kind: string;
  if (nginx) {
    const conf = path.join(work, 'nginx.conf');
    mkdirSync(path.join(work, 'logs'), { recursive: true });
    const t = (n: string) => path.join(work, n);
    writeFileSync(
      conf,
      `daemon off; ${process.getuid?.() === 0 ? 'user root root;' : ''} worker_processes 1; pid ${t('pid')}; error_log ${t('logs/error.log')} warn;
events { worker_connections 64; }
http { access_log off; sendfile on; client_body_temp_path ${t('c')}; proxy_temp_path ${t('p')}; fastcgi_temp_path ${t('f')}; uwsgi_temp_path ${t('u')}; scgi_temp_path ${t('s')};
  server { listen 127.0.0.1:${port}; root ${root}; } }
`,
    );
    child = spawn(nginx, ['-p', work, '-c', conf], { stdio: 'ignore' });
    kind = 'nginx';
  } else {
    const script = `const http=require('http'),fs=require('fs'),path=require('path');http.createServer((q,s)=>{const f=path.join(${JSON.stringify(root)},path.normalize(decodeURIComponent(q.url.split('?')[0])));fs.stat(f,(e,st)=>{if(e){s.writeHead(404).end();return}const m=/^bytes=(\\d+)-$/.exec(q.headers.range||'');const a=m?+m[1]:0;s.writeHead(m?206:200,m?{'content-length':st.size-a,'content-range':'bytes '+a+'-'+(st.size-1)+'/'+st.size}:{'content-length':st.size});fs.createReadStream(f,{start:a}).pipe(s)})}).listen(${port},'127.0.0.1')`;
    child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    kind = 'node http';
  }
  await listening(port);
  return { url: `http://127.0.0.1:${port}`, kind, child };
}

await runScenario(async (config) => {
  const { source, shardDir, shardPattern, loader: loaderOptions = {} } = config.options as {
    source: 'local' | 'http' | 'pack';
    shardDir: string;
    shardPattern: string;
    loader?: ShardDatasetOptions;
  };
  const work = mkdtempSync(path.join(os.tmpdir(), 'imgstream-bench-shards-'));
  try {
    if (source === 'pack') {
      const started = performance.now();
      const result = await packShards(config.dir, path.join(work, 'out'), { shardSize: 256 * 2 ** 20 });
      const wallMs = performance.now() - started;
      return { images: result.samples, batches: 0, wallMs, timeToFirstBatchMs: wallMs, stallMs: 0, peakMemoryBytes: peakRss(), extra: { shards: result.shards.length, bytes: result.bytes } };
    }
    const server = source === 'http' ? await serve(shardDir, work) : null;
    try {
      const base = server === null ? shardDir : server.url;
      const started = performance.now();
      const loader = await imageDatasetFromShards(`${base}/${shardPattern}`, {
        imageSize: config.imageSize,
        dtype: config.dtype,
        batchSize: config.batchSize,
        ...loaderOptions,
      });
      async function* batches(): AsyncGenerator<BatchLike> {
        for await (const batch of loader) {
          yield { count: batch.shape[0] };
          loader.recycle(batch);
        }
      }
      const measured = await consume(batches(), config.stepMs, started);
      const { stats, config: shards } = loader;
      await loader.close();
      return {
        ...measured,
        peakMemoryBytes: peakRss(),
        extra: { server: server?.kind ?? null, budget: shards.budget, shuffleBuffer: shards.bufferSamples, skipped: stats.skipped.length, resumes: loader.streamStats.resumes },
      };
    } finally {
      server?.child.kill('SIGQUIT');
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

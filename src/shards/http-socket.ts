/**
 * Plain `http:` GETs for shard bodies, on a socket of their own: the request is written here
 * (`Connection: close`, one request per connection), the response's status line and headers are parsed here,
 * and the body is read by the socket straight into slabs this module hands it (`net.Socket`'s `onread`), so
 * that no HTTP parser callback, stream event or Buffer of Node's `http` client is paid per chunk. Only a body
 * framed by `Content-Length`, or by the end of the connection, is read this way; a response in another framing
 * (a transfer coding) is returned without a body, for the caller to ask again with Node's `http` client.
 */
import net from 'node:net';

/** A response's head, and its body when its framing is one read here (else the connection is closed). */
export interface SocketResponse {
  status: number;
  statusMessage: string;
  /** Header values by lower-case name (a repeated header: its last value). */
  headers: Record<string, string>;
  body: AsyncIterableIterator<Uint8Array> | null;
}

/** Bytes of one slab (see {@link Slabs}). */
const SLAB = 256 * 1024;
const MIN_READ = 64 * 1024;
/** Body bytes queued (read, not yet taken) past which the socket stops reading. */
const HIGH_WATER = 1 << 20;
/** A response head longer than this is refused. */
const MAX_HEAD = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Sends `GET url` with `headers` and resolves once the response's head has arrived. Errors (refused
 * connection, a reset, a malformed head) reject with the socket's error; `signal` destroys the socket.
 */
export function socketGet(url: URL, headers: Record<string, string>, signal: AbortSignal): Promise<SocketResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const slabs = new Slabs();
    let head: Buffer | null = Buffer.alloc(0);
    let body: SocketBody | null = null;
    const socket = net.connect({
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(url.port || 80),
      onread: {
        buffer: () => slabs.next(),
        callback: (n: number, buf: Uint8Array): boolean => {
          const chunk = buf.subarray(0, n);
          const slab = slabs.filled(n);
          if (body !== null) return body.push(chunk, slab);
          if (head === null) return true;
          head = Buffer.concat([head, chunk]);
          const end = head.indexOf(HEAD_END);
          if (end === -1) {
            if (head.length > MAX_HEAD) socket.destroy(new Error('response head too long'));
            return true;
          }
          const parsed = parseHead(head.subarray(0, end).toString('latin1'));
          const rest = head.subarray(end + HEAD_END.length);
          head = null;
          if (parsed === null) {
            socket.destroy(new Error('malformed response head'));
            return true;
          }
          const length = parsed.headers['content-length'];
          const framed = parsed.headers['transfer-encoding'] === undefined && (length === undefined || /^\d+$/.test(length));
          if (!framed) {
            socket.destroy();
            resolve({ ...parsed, body: null });
            return false;
          }
          body = new SocketBody(socket, slabs, length === undefined ? Infinity : Number(length));
          resolve({ ...parsed, body });
          return rest.length > 0 ? body.push(rest, null) : true;
        },
      },
    });
    const path = `${url.pathname || '/'}${url.search}`;
    const lines = [`GET ${path} HTTP/1.1`, `Host: ${url.host}`, 'Connection: close'];
    if (url.username !== '' || url.password !== '') {
      const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      lines.push(`Authorization: Basic ${Buffer.from(credentials).toString('base64')}`);
    }
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    socket.setNoDelay(true);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    const abort = () => socket.destroy(signal.reason as Error);
    signal.addEventListener('abort', abort, { once: true });
    socket.on('error', (err) => {
      if (body !== null) body.fail(err);
      else reject(err);
    });
    socket.on('close', () => {
      signal.removeEventListener('abort', abort);
      if (body !== null) body.end();
      else if (head !== null) reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    });
  });
}

interface Slab {
  bytes: Buffer;
  used: number;
  /** Chunks on it handed to the body and not yet let go. */
  out: number;
  /** Whether reads have moved on to another slab. */
  done: boolean;
}

/** Slabs kept for reuse by one connection, once every chunk on them has been let go. */
const SPARE_SLABS = 2;

/**
 * The slabs one connection reads into: each read gets the rest of the current slab (a new one when less than
 * {@link MIN_READ} is left), and a slab whose chunks have all been let go is read into again, so that the
 * kernel writes into pages already mapped instead of new ones.
 */
class Slabs {
  private readonly spare: Buffer[] = [];
  private current: Slab = this.fresh();

  private fresh(): Slab {
    return { bytes: this.spare.pop() ?? Buffer.allocUnsafeSlow(SLAB), used: 0, out: 0, done: false };
  }

  /** Where the next read goes. */
  next(): Buffer {
    if (SLAB - this.current.used < MIN_READ) {
      this.current.done = true;
      this.reuse(this.current);
      this.current = this.fresh();
    }
    return this.current.bytes.subarray(this.current.used);
  }

  /** Counts `n` bytes just read into the current slab; returns it. */
  filled(n: number): Slab {
    this.current.used += n;
    return this.current;
  }

  /** A chunk on `slab` handed out, let go. */
  release(slab: Slab): void {
    slab.out -= 1;
    this.reuse(slab);
  }

  private reuse(slab: Slab): void {
    if (slab.done && slab.out === 0 && this.spare.length < SPARE_SLABS) this.spare.push(slab.bytes);
  }
}

function parseHead(text: string): Omit<SocketResponse, 'body'> | null {
  const lines = text.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (status === null) return null;
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    if (colon <= 0) return null;
    headers[lines[i].slice(0, colon).trim().toLowerCase()] = lines[i].slice(colon + 1).trim();
  }
  return { status: Number(status[1]), statusMessage: status[2] ?? '', headers };
}

/**
 * A response body as an async iterator of its chunks: views on the slabs, each valid until the next one is
 * asked for (then its bytes may be read over; the tar walk copies what it keeps before it asks). It ends at
 * `Content-Length` bytes or at the connection's end, whichever comes first (a body cut short ends early: the
 * caller knows the size it was promised); the socket pauses while {@link HIGH_WATER} bytes wait.
 */
class SocketBody implements AsyncIterableIterator<Uint8Array> {
  private readonly queue: Uint8Array[] = [];
  /** The slab of each queued chunk (`null`: not on a slab). */
  private readonly queueSlabs: (Slab | null)[] = [];
  /** The slab of the chunk the reader holds, let go when it asks for the next. */
  private held: Slab | null = null;
  private queued = 0;
  private paused = false;
  private done = false;
  private error: unknown = null;
  private waiting: { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (err: unknown) => void } | null = null;

  constructor(
    private readonly socket: net.Socket,
    private readonly slabs: Slabs,
    /** Body bytes still to come. */
    private left: number,
  ) {
    if (left === 0) this.finish();
  }

  /** Takes a chunk the socket read; `false` pauses the socket. */
  push(chunk: Uint8Array, slab: Slab | null): boolean {
    if (this.done) return true;
    if (chunk.length >= this.left) {
      chunk = chunk.subarray(0, this.left);
      this.left = 0;
    } else this.left -= chunk.length;
    if (chunk.length > 0) {
      if (slab !== null) slab.out += 1;
      if (this.waiting !== null) {
        const { resolve } = this.waiting;
        this.waiting = null;
        this.held = slab;
        resolve({ value: chunk, done: false });
      } else {
        this.queue.push(chunk);
        this.queueSlabs.push(slab);
        this.queued += chunk.length;
      }
    }
    if (this.left === 0) {
      this.finish();
      return false;
    }
    if (this.queued < HIGH_WATER) return true;
    this.paused = true;
    return false;
  }

  end(): void {
    this.done = true;
    this.settle();
  }

  fail(err: unknown): void {
    if (this.done) return;
    this.error = err;
    this.done = true;
    this.settle();
  }

  private finish(): void {
    this.done = true;
    this.socket.destroy();
    this.settle();
  }

  /** Wakes a waiting reader at the end, or with the error. */
  private settle(): void {
    if (this.waiting === null || this.queue.length > 0) return;
    const { resolve, reject } = this.waiting;
    this.waiting = null;
    if (this.error !== null) reject(this.error);
    else resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.held !== null) this.slabs.release(this.held);
    this.held = null;
    const chunk = this.queue.shift();
    if (chunk !== undefined) {
      this.held = this.queueSlabs.shift() ?? null;
      this.queued -= chunk.length;
      if (this.paused && this.queued < HIGH_WATER / 2) {
        this.paused = false;
        this.socket.resume();
      }
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.error !== null) return Promise.reject(this.error);
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    this.done = true;
    this.queue.length = 0;
    this.queueSlabs.length = 0;
    this.held = null;
    this.socket.destroy();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

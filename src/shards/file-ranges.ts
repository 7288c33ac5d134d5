/**
 * Byte ranges of local shards read straight into shared memory: the coordinator reads a local sample's image
 * into its staging-arena range when the sample is due, so that its bytes cross no intermediate buffer. A few
 * files are kept open (samples of one or two shards are due at a time), each closed once it is the oldest
 * and idle, and all of them on `close()`.
 */
import { promises as fsp } from 'node:fs';

/** Files kept open at once. */
const OPEN_FILES = 4;

export class FileRanges {
  private readonly open = new Map<string, { handle: Promise<fsp.FileHandle>; busy: number }>();

  /** Fills `into` with the bytes of `file` from `position`; a file shorter than that is an error. */
  async readInto(file: string, position: number, into: Uint8Array): Promise<void> {
    let entry = this.open.get(file);
    if (entry === undefined) {
      entry = { handle: fsp.open(file, 'r'), busy: 0 };
      entry.handle.catch(() => undefined);
      this.open.set(file, entry);
    }
    entry.busy += 1;
    this.evict();
    try {
      const handle = await entry.handle;
      let done = 0;
      while (done < into.length) {
        const { bytesRead } = await handle.read(into, done, into.length - done, position + done);
        if (bytesRead === 0) throw new Error(`the shard ends at byte ${position + done}, inside this sample (${into.length} bytes from ${position})`);
        done += bytesRead;
      }
    } finally {
      entry.busy -= 1;
    }
  }

  /** Closes the oldest idle files past the limit. */
  private evict(): void {
    for (const [file, entry] of this.open) {
      if (this.open.size <= OPEN_FILES) return;
      if (entry.busy > 0) continue;
      this.open.delete(file);
      void entry.handle.then((h) => h.close()).catch(() => undefined);
    }
  }

  /** Closes every file (no read may be in flight). */
  async close(): Promise<void> {
    const entries = [...this.open.values()];
    this.open.clear();
    await Promise.allSettled(entries.map(async (e) => (await e.handle).close()));
  }
}

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageLoader, fromList, imageDatasetFromDirectory, parseByteSize, type ImageLoaderOptions } from '../src/index.js';
import { makeClassFolders, removeDir, tempDir } from './fixtures/images.js';

const index = fromList(['a.jpg', 'b.jpg', 'c.jpg'], [0, 1, 1], { classNames: ['x', 'y'] });

function errorOf(options: ImageLoaderOptions): Error & { code?: string } {
  try {
    new ImageLoader(index, options);
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected the options to be refused');
}

describe('bad options fail at construction, naming option, allowed values and value received', () => {
  const cases: [string, ImageLoaderOptions, RegExp][] = [
    ['negative batch size', { batchSize: -4 }, /^Expected an integer between 1 and \d+ for batchSize but received -4 of type number$/],
    ['fractional batch size', { batchSize: 2.5 }, /for batchSize but received 2.5/],
    ['unknown colorMode', { colorMode: 'cmyk' as never }, /^Expected one of 'grayscale', 'rgb', 'rgba' for colorMode but received 'cmyk' of type string$/],
    ['imageSize not two integers', { imageSize: [224] as never }, /for imageSize but received \[224\] of type array/],
    ['imageSize with zero', { imageSize: [0, 10] }, /\[height, width\], two integers between 1 and 16384 for imageSize/],
    ['unknown labelMode', { labelMode: 'sparse' as never }, /for labelMode but received 'sparse'/],
    ['unknown interpolation', { interpolation: 'area' as never }, /'nearest', 'bilinear', 'bicubic', 'lanczos3' for interpolation/],
    ['unknown dtype', { dtype: 'float16' as never }, /for dtype but received 'float16'/],
    ['bad workers', { workers: 0 }, /for workers \(or 'auto'\) but received 0/],
    ['bad budget string', { memoryBudget: 'lots' }, /for memoryBudget but received 'lots'/],
    ['budget smaller than one batch', { memoryBudget: '1MiB', imageSize: [224, 224] }, /^Expected at least .* for memoryBudget but received '1MiB'/],
    ['bad onError', { onError: 'ignore' as never }, /'skip', 'throw' for onError/],
    ['bad normalize', { normalize: 'zscore' as never }, /for normalize but received 'zscore'/],
    ['normalize on uint8', { dtype: 'uint8', normalize: 'unit' }, /normalize 'none' with dtype 'uint8'/],
    ['bad std', { normalize: { mean: 0.5, std: [1, 0, 1] } }, /normalize.std\[1\]/],
    ['bad mean length', { normalize: { mean: [0.5, 0.5], std: 1 } }, /array of 3 numbers .* for normalize.mean/],
    ['negative seed', { seed: -1 }, /for seed but received -1/],
    ['unknown option', { batchsize: 3 } as never, /for options but received 'batchsize'/],
    ['split out of range', { validationSplit: 1.5, subset: 'training' }, /between 0 and 1 \(exclusive\) for validationSplit but received 1.5/],
    ['split without subset', { validationSplit: 0.5 }, /'training', 'validation' for subset but received undefined/],
    ['shard index out of range', { shard: { count: 2, index: 2 } }, /between 0 and 1 for shard.index but received 2/],
    ['bad rankRemainder', { shard: { count: 2, index: 0 }, rankRemainder: 'pad' as never }, /one of 'repeat', 'drop' for rankRemainder but received 'pad'/],
    ['subset without split', { subset: 'training' }, /validationSplit with subset 'training'/],
  ];
  for (const [name, options, message] of cases) {
    it(name, () => {
      const err = errorOf(options);
      expect(err.code).toBe('ERR_OPTION');
      expect(err.message).toMatch(message);
    });
  }

  it('binary labels need exactly two classes; labels need a labeled index', () => {
    const three = fromList(['a', 'b', 'c'], [0, 1, 2]);
    expect(() => new ImageLoader(three, { labelMode: 'binary' })).toThrow(/exactly 2 classes/);
    expect(() => new ImageLoader(fromList(['a']), { labelMode: 'int' })).toThrow(/labelMode null/);
  });
});

describe('resolved options', () => {
  it('fills the Keras-like defaults and sizes the ring from the budget', () => {
    const loader = new ImageLoader(index);
    const o = loader.options;
    expect(o.imageSize).toEqual([256, 256]);
    expect(o.colorMode).toBe('rgb');
    expect(o.channels).toBe(3);
    expect(o.batchSize).toBe(32);
    expect(o.dtype).toBe('float32');
    expect(o.labelMode).toBe('int');
    expect(o.numClasses).toBe(2);
    expect(Object.isFrozen(o)).toBe(true);
    // Never more slots than batches need for a tiny dataset: one batch.
    expect(o.capacity).toBe(32);
    const big = new ImageLoader(fromList(Array.from({ length: 10_000 }, (_, i) => `${i}.jpg`)), {
      imageSize: [224, 224],
      labelMode: null,
      memoryBudget: '256MiB',
    });
    const sample = 224 * 224 * 3 * 4;
    expect(big.options.sampleBytes).toBe(sample);
    // prefetch 'auto': 4 batches ahead, well within the budget.
    expect(big.options.capacity).toBe(4 * 32);
    // The budget's room past that ring pools more batches, up to 8 in all (fewer collections to find dropped ones).
    expect(big.options.pooledBatches).toBe(8);
    expect((big.options.capacity + big.options.pooledBatches * 32) * sample).toBeLessThanOrEqual(256 * 2 ** 20);
    // prefetch as deep as the budget allows: the ring plus two batches (assembled, held by the consumer) fill it.
    const deep = new ImageLoader(big.index, { imageSize: [224, 224], labelMode: null, memoryBudget: '256MiB', prefetch: 1000 });
    expect(deep.options.capacity).toBe(Math.floor((256 * 2 ** 20) / sample) - 2 * 32);
    expect((deep.options.capacity + 2 * 32) * sample).toBeLessThanOrEqual(256 * 2 ** 20);
    expect(deep.options.pooledBatches).toBe(2);
    // A budget with room for a ring of 4 batches and 3 more pools 3 batches (the two, and one more).
    const roomy = new ImageLoader(big.index, { imageSize: [224, 224], labelMode: null, memoryBudget: (4 + 3) * 32 * sample + 1 });
    expect([roomy.options.capacity, roomy.options.pooledBatches]).toEqual([4 * 32, 3]);
    // The smallest budget: a ring of one batch plus the two batches.
    const least = 3 * 32 * sample;
    expect(new ImageLoader(big.index, { imageSize: [224, 224], labelMode: null, memoryBudget: least, prefetch: 1000 }).options.capacity).toBe(32);
    expect(() => new ImageLoader(big.index, { imageSize: [224, 224], labelMode: null, memoryBudget: least - 1 })).toThrow(
      /^Expected at least 55.13MB \(3 batches of 32 samples of 602112 bytes: a ring of one batch, the batch being assembled and the one the consumer holds\) for memoryBudget/,
    );
    const two = new ImageLoader(big.index, { imageSize: [224, 224], labelMode: null, prefetch: 2, workers: 2 });
    expect(two.options.capacity).toBe(2 * 32);
    expect(() => new ImageLoader(big.index, { labelMode: null, prefetch: 0 })).toThrow(
      /Expected an integer between 1 and \d+ for prefetch \(or 'auto'\) but received 0 of type number/,
    );
  });

  it('parses byte sizes', () => {
    expect(parseByteSize('b', '256MiB')).toBe(256 * 2 ** 20);
    expect(parseByteSize('b', '1.5 GB')).toBe(1.5 * 2 ** 30);
    expect(parseByteSize('b', 1000)).toBe(1000);
    expect(() => parseByteSize('b', -1)).toThrow(/for b/);
  });
});

describe('imageDatasetFromDirectory options', () => {
  let root: string;
  beforeAll(async () => {
    root = tempDir();
    await makeClassFolders(path.join(root, 'd'), { a: 3, b: 3 });
  });
  afterAll(() => removeDir(root));

  it('refuses a bad subset and a missing directory', async () => {
    await expect(imageDatasetFromDirectory(path.join(root, 'd'), { validationSplit: 0.5, subset: 'test' as never })).rejects.toThrow(
      /'training', 'validation', 'both' for subset/,
    );
    await expect(imageDatasetFromDirectory(path.join(root, 'missing'))).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });
});

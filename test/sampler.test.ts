import { describe, expect, it } from 'vitest';
import { epochOrder, numpyLegacyShuffle, splitEntries } from '../src/sampler.js';

describe('epochOrder', () => {
  it('is a permutation, a pure function of (seed, epoch), new every epoch', () => {
    const a = epochOrder(1000, { shuffle: true, seed: 3, epoch: 0 });
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(epochOrder(1000, { shuffle: true, seed: 3, epoch: 0 })).toEqual(a);
    expect(epochOrder(1000, { shuffle: true, seed: 3, epoch: 1 })).not.toEqual(a);
    expect(epochOrder(1000, { shuffle: true, seed: 4, epoch: 0 })).not.toEqual(a);
  });

  it('keeps index order without shuffle', () => {
    expect(Array.from(epochOrder(5, { shuffle: false, seed: 3, epoch: 9 }))).toEqual([0, 1, 2, 3, 4]);
  });

  it('moves each element to each place about equally often', () => {
    const counts = Array.from({ length: 4 }, () => new Array(4).fill(0));
    for (let e = 0; e < 4000; e++) {
      epochOrder(4, { shuffle: true, seed: 11, epoch: e }).forEach((v, pos) => counts[v][pos]++);
    }
    for (const row of counts) for (const c of row) expect(Math.abs(c - 1000)).toBeLessThan(120);
  });
});

describe('numpyLegacyShuffle', () => {
  it("reproduces numpy's RandomState(seed).shuffle bit for bit", () => {
    // Reference values printed by numpy: rs = np.random.RandomState(seed); a = np.arange(n); rs.shuffle(a)
    expect(numpyLegacyShuffle([...Array(10).keys()], 1337)).toEqual([6, 3, 0, 4, 5, 2, 1, 9, 8, 7]);
    expect(numpyLegacyShuffle([...Array(23).keys()], 42)).toEqual([
      15, 9, 0, 8, 17, 12, 1, 13, 5, 2, 11, 20, 3, 4, 18, 16, 21, 22, 7, 10, 14, 19, 6,
    ]);
  });
});

describe('splitEntries (Keras validation split)', () => {
  it('takes the last floor(split * n) of the seeded shuffle for validation', () => {
    const val = splitEntries(10, { validationSplit: 0.2, subset: 'validation', shuffle: true, seed: 1337 });
    const train = splitEntries(10, { validationSplit: 0.2, subset: 'training', shuffle: true, seed: 1337 });
    expect(Array.from(val)).toEqual([8, 7]);
    expect(Array.from(train)).toEqual([6, 3, 0, 4, 5, 2, 1, 9]);
  });

  it('splits the sorted list without shuffle, and refuses an empty side', () => {
    expect(Array.from(splitEntries(5, { validationSplit: 0.4, subset: 'validation', shuffle: false, seed: 0 }))).toEqual([3, 4]);
    expect(() => splitEntries(3, { validationSplit: 0.2, subset: 'validation', shuffle: false, seed: 0 })).toThrow(/validationSplit/);
  });
});

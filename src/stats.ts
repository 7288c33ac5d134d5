/**
 * Loader statistics: what the last (or current) epoch delivered, skipped and waited for.
 */
import type { SkippedSample } from './errors.js';

export interface LoaderStats {
  /** Epochs started so far. */
  epochs: number;
  /** Positions of this epoch consumed (delivered or skipped) up to the last batch handed out. */
  position: number;
  /** Samples delivered per second of the epoch's wall time, first batch included. */
  imagesPerSecond: number;
  /** Samples decoded and delivered in this epoch. */
  decoded: number;
  /** Files that could not be loaded in this epoch, with the reason. */
  skipped: SkippedSample[];
  batches: number;
  /** Time from the start of the epoch to its first batch, ms. */
  timeToFirstBatchMs: number;
  /** Time the consumer waited for samples that were not decoded yet, ms. */
  stallMs: number;
  /** Time the workers could not be given work because the ring was full, ms. */
  producerIdleMs: number;
  /** Sum of the workers' busy time, ms (CPU-bound: about CPU time spent decoding). */
  workerBusyMs: number;
  /** Tasks re-run after a worker threw or exited. */
  retries: number;
  ring: {
    /** Sample slots in the ring. */
    capacity: number;
    /** Bytes of the ring's pixel buffer. */
    bytes: number;
    /** Most slots held at once (in flight or ready). Never above `capacity`. */
    highWater: number;
    /** Mean share of slots held when the consumer took a sample (0..1). */
    meanFill: number;
  };
}

export function emptyStats(capacity: number, bytes: number, epochs: number, position = 0): LoaderStats {
  return {
    epochs,
    position,
    imagesPerSecond: 0,
    decoded: 0,
    skipped: [],
    batches: 0,
    timeToFirstBatchMs: 0,
    stallMs: 0,
    producerIdleMs: 0,
    workerBusyMs: 0,
    retries: 0,
    ring: { capacity, bytes, highWater: 0, meanFill: 0 },
  };
}

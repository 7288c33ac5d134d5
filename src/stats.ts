/**
 * Loader statistics: what the last (or current) epoch delivered, skipped and waited for, read from the
 * counters of the stages that measured it.
 */
import type { CoordinatorCounters } from './coordinator.js';
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

/** What the consumer (`batches.ts`) counts in the epoch it runs: its share of {@link LoaderStats}. */
export type ConsumerCounters = Pick<LoaderStats, 'position' | 'imagesPerSecond' | 'decoded' | 'skipped' | 'batches' | 'timeToFirstBatchMs' | 'stallMs'> &
  Pick<LoaderStats['ring'], 'meanFill'>;

/**
 * The loader's stats, composed from the counters each stage keeps for the epoch: the coordinator's (work
 * handed out, retries, worker time) and the consumer's (what was delivered, skipped and waited for).
 * `null` counters (no epoch started yet) read as zeros.
 */
export function composeStats(
  epochs: number,
  ring: { capacity: number; bytes: number },
  producer: CoordinatorCounters | null,
  consumer: ConsumerCounters | null,
): LoaderStats {
  return {
    epochs,
    position: consumer?.position ?? 0,
    imagesPerSecond: consumer?.imagesPerSecond ?? 0,
    decoded: consumer?.decoded ?? 0,
    skipped: consumer?.skipped ?? [],
    batches: consumer?.batches ?? 0,
    timeToFirstBatchMs: consumer?.timeToFirstBatchMs ?? 0,
    stallMs: consumer?.stallMs ?? 0,
    producerIdleMs: producer?.producerIdleMs ?? 0,
    workerBusyMs: producer?.busyMs ?? 0,
    retries: producer?.retries ?? 0,
    ring: { capacity: ring.capacity, bytes: ring.bytes, highWater: producer?.highWater ?? 0, meanFill: consumer?.meanFill ?? 0 },
  };
}

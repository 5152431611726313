/**
 * Gives memory back once the broker goes quiet: one memory-reducing full collection (V8's "last resort"
 * flavour, which also returns the pages V8 keeps pooled) when the event loop was idle over a whole check
 * interval (under 1 % busy) and resident memory has grown by 4 MB since the last such collection.
 *
 * Why: V8's own memory reducer judges idleness by the allocation rate it measured at the last collection, and
 * an idle process makes none: on Node 24 it never runs, so the young generation that start-up or a load grew,
 * and the pages V8 pooled, stay resident. Measured on the compiled broker (Node 24.22): idle 90 -> 80 MB; after
 * 2,000 shared-plan lifecycles 158 -> 143 MB (Node 22: 102 -> 91).
 *
 * Cost: the collection holds the event loop for 40 to 70 ms, and V8 then recompiles the code it flushed: about
 * 0.5 G instructions in all (valgrind), after which a catalog request costs what it did before. Hence only when
 * idle, and only after growth: memory that a collection cannot give back raises the mark, so it is not retried.
 *
 * It needs V8's `gc` on the global object (`node --expose-gc`, as the container image runs the broker);
 * without it, nothing runs.
 */

/** What one collection did, for a debug log line. */
export interface Collected { rssBeforeBytes: number, rssAfterBytes: number, ms: number }

export interface IdleCollectionOptions {
  /** Runs the collection. */
  collect: () => void
  /** The process's resident memory now. */
  residentBytes: () => number
  /** The share of time the event loop was busy since the previous call (0 to 1). */
  busySinceLastCall: () => number
  onCollected?: (collected: Collected) => void
}

export const IDLE_CHECK_MS = 10_000
/** Growth of resident memory since the last collection that makes another worth it. */
const GROWTH_BYTES = 4 * 2 ** 20
/** Busy share below which an interval counts as idle. */
const IDLE_BELOW = 0.01

/** The decision, one call per check interval; the interval itself is startIdleCollection's. */
export class IdleCollector {
  private readonly options: IdleCollectionOptions
  // Resident memory right after the last collection: none yet, so the first idle interval collects
  // (start-up grows the young generation).
  private mark = 0

  constructor (options: IdleCollectionOptions) {
    this.options = options
  }

  /** Collects if the interval just ended was idle and memory has grown since the last collection. */
  check (): Collected | undefined {
    const { busySinceLastCall, residentBytes, collect } = this.options
    if (busySinceLastCall() >= IDLE_BELOW) return undefined
    const rssBeforeBytes = residentBytes()
    if (rssBeforeBytes < this.mark + GROWTH_BYTES) return undefined
    const started = performance.now()
    collect()
    const collected = { rssBeforeBytes, rssAfterBytes: this.mark = residentBytes(), ms: performance.now() - started }
    this.options.onCollected?.(collected)
    return collected
  }
}

type GcFunction = (options: { type: 'major', execution: 'sync', flavor: 'last-resort' }) => void

/**
 * Checks every IDLE_CHECK_MS (the timer does not keep the process alive) where V8's `gc` is exposed;
 * returns the stop function, or undefined where `gc` is not there.
 */
export function startIdleCollection (onCollected?: (collected: Collected) => void, intervalMs = IDLE_CHECK_MS): (() => void) | undefined {
  const gc = (globalThis as { gc?: GcFunction }).gc
  if (typeof gc !== 'function') return undefined
  let last = performance.eventLoopUtilization()
  const collector = new IdleCollector({
    // Node 20's V8 ignores `flavor` and runs an ordinary major collection.
    collect: () => { gc({ type: 'major', execution: 'sync', flavor: 'last-resort' }) },
    residentBytes: () => process.memoryUsage.rss(),
    busySinceLastCall: () => {
      const now = performance.eventLoopUtilization()
      const share = performance.eventLoopUtilization(now, last).utilization
      last = now
      return share
    },
    ...(onCollected === undefined ? {} : { onCollected })
  })
  const timer = setInterval(() => { collector.check() }, intervalMs)
  timer.unref()
  return () => { clearInterval(timer) }
}

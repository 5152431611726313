/**
 * Keeps one `process.nextTick` queue entry alive for the life of the process, so Node's nextTick stays fast.
 *
 * Why: V8 holds the hidden classes ("maps") of nextTick's queue entries weakly. While the broker starts, it
 * loads and compiles enough code for several full collections to run at moments when no entry is alive; each
 * drops the entries' maps, and the next entries get new ones. nextTick's object literal then sees several
 * maps and is optimised to a generic store for good. Measured on a bare `node:http` handler in the same
 * process: nextTick's own time went from about 1 % to 13-15 % of the CPU profile (2-5 µs more per request).
 * One entry kept alive keeps its maps, so every later entry shares them.
 *
 * Call it first thing in an entry point (main.ts), before the broker's modules load. It is harmless
 * where V8 behaves otherwise: one small object is kept, and nothing else changes.
 */
import { executionAsyncResource } from 'node:async_hooks'

let kept: object | undefined

/** The entry kept (inside a nextTick callback, the current async resource is the queue entry itself). */
export async function keepTickShape (): Promise<object> {
  kept ??= await new Promise<object>(resolve => { process.nextTick(() => { resolve(executionAsyncResource()) }) })
  return kept
}

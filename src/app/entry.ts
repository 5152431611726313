/**
 * What the compiled entry points (main.ts, cli.ts) do before they load the broker's modules: Node's compile
 * cache is switched on (Node 22.1 and later; a no-op before, and where its directory is not writable), so
 * every start after the first skips recompiling the module graph, and one nextTick entry is kept alive
 * (tick-shape.ts says why). The broker's modules must be imported after this, dynamically.
 */
import * as nodeModule from 'node:module'
import { keepTickShape } from './tick-shape.js'

export async function prepareEntry (): Promise<void> {
  ;(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.()
  await keepTickShape()
}

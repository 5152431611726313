/**
 * Entry point of `npm start` and of the container image: serve with the process environment. Node's compile
 * cache is switched on first (Node 22.1 and later; a no-op before, and where its directory is not writable),
 * so every start after the first skips recompiling the module graph, and one nextTick entry is kept alive
 * (tick-shape.ts); the broker is imported after that.
 */
import * as nodeModule from 'node:module'
import { keepTickShape } from './tick-shape.js'

;(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.()
// Before the broker's modules load: keeps process.nextTick on its fast path (tick-shape.ts says why).
await keepTickShape()
const { serve } = await import('./server.js')
await serve(process.env)

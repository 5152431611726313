/**
 * Entry point of `npm start` and of the container image: serve with the process environment. Node's compile
 * cache is switched on first (Node 22.1 and later; a no-op before, and where its directory is not writable),
 * so every start after the first skips recompiling the module graph; the broker is imported after that.
 */
import * as nodeModule from 'node:module'

;(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.()
const { serve } = await import('./server.js')
await serve(process.env)

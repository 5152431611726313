/**
 * Entry point of `npm start` (trying the broker): like main.ts, except that with no Atlas credentials at all
 * it asks for local mode itself (the built-in simulator, an in-memory store). Every production entry (the
 * image's `node dist/app/main.js`, `atlas-broker serve`) refuses to start without credentials unless
 * LOCAL_MODE=true is set explicitly.
 */
import { keepTickShape } from './tick-shape.js'

// Before the broker's modules load, as in main.ts (tick-shape.ts says why).
await keepTickShape()
const { localModeUnlessConfigured } = await import('./config.js')
const { serve } = await import('./server.js')
await serve(localModeUnlessConfigured(process.env))

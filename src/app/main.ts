/**
 * Entry point of the container image and `npm run start:dist` (`node dist/app/main.js`): serve with the
 * process environment. The broker is imported once the process is prepared (entry.ts).
 */
import { prepareEntry } from './entry.js'

await prepareEntry()
const { serve } = await import('./server.js')
await serve(process.env)

/** Entry point of `npm start` and of the container image: serve with the process environment. */
import { serve } from './server.js'

await serve(process.env)

/**
 * How the container image starts the broker, read from the Dockerfile, so the bench and the packaging test run
 * the broker exactly as the image does: its NODE_OPTIONS (an ENV of the runtime stage) and the node flags of
 * its ENTRYPOINT (between "node" and the entry file).
 */
import { readFileSync } from 'node:fs'

const DOCKERFILE = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8')
const ENTRYPOINT = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(DOCKERFILE)?.[1] ?? '[]') as string[]

/** The image's NODE_OPTIONS ('' when it sets none). */
export const IMAGE_NODE_OPTIONS = /^\s+NODE_OPTIONS=(\S+)/m.exec(DOCKERFILE)?.[1] ?? ''
/** The node flags of the image's ENTRYPOINT. */
export const IMAGE_NODE_FLAGS = ENTRYPOINT.filter(arg => arg.startsWith('--'))
/** The entry file the ENTRYPOINT runs, relative to the image's working directory. */
export const IMAGE_ENTRY = ENTRYPOINT.at(-1) ?? 'dist/app/main.js'

/** The package's name and version, read once from package.json (two levels up from both src/app and dist/app). */
import { readFileSync } from 'node:fs'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }

export const VERSION = pkg.version ?? '0.0.0'

/** What the broker calls itself towards Atlas, as MongoDB's own clients do: `name/version (os; arch)`. */
export const USER_AGENT = `atlas-broker/${VERSION} (${process.platform}; ${process.arch})`

/**
 * Named Atlas credentials (plans' `atlas.credentials`): from ATLAS_CREDENTIALS_FILE and the variables
 * ATLAS_CREDENTIALS_<NAME>_*, each an API key or a service account.
 */
import type { AtlasCredentials } from '../adapters/atlas/atlas-http-client.js'

/** `ATLAS_CREDENTIALS_<NAME>_<PART>`: one part of a named set of credentials. */
export const NAMED_KEY = /^ATLAS_CREDENTIALS_([A-Z0-9][A-Z0-9_]*?)_(PUBLIC_KEY|PRIVATE_KEY|CLIENT_ID|CLIENT_SECRET)$/

/** A credentials name as plans and settings compare it: lower case, `_` and `-` alike. */
export function credentialsName (name: string): string {
  return name.toLowerCase().replace(/_/g, '-')
}

/**
 * Named Atlas credentials from ATLAS_CREDENTIALS_FILE and ATLAS_CREDENTIALS_<NAME>_* (the variables win), each
 * an API key or a service account, complete. Problems name the setting, never a secret.
 */
export function namedCredentials (
  env: Record<string, string | undefined>, file: string | undefined, readFile: (path: string) => string, problems: string[]
): Record<string, AtlasCredentials> {
  const parts = new Map<string, Record<string, string>>()
  const where = new Map<string, string>()
  if (file !== undefined) {
    let parsed: unknown
    try {
      parsed = JSON.parse(readFile(file))
    } catch (err) {
      problems.push(`ATLAS_CREDENTIALS_FILE: cannot read ${file} as JSON (${err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err)})`)
    }
    if (parsed !== undefined && (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))) problems.push(`ATLAS_CREDENTIALS_FILE: ${file} must hold an object of named credentials`)
    else if (parsed !== undefined) {
      for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
        const fields = typeof value === 'object' && value !== null ? value as Record<string, unknown> : {}
        const set: Record<string, string> = {}
        for (const [key, part] of [['publicKey', 'PUBLIC_KEY'], ['privateKey', 'PRIVATE_KEY'], ['clientId', 'CLIENT_ID'], ['clientSecret', 'CLIENT_SECRET']] as const) {
          if (typeof fields[key] === 'string' && fields[key] !== '') set[part] = fields[key]
        }
        parts.set(credentialsName(name), set)
        where.set(credentialsName(name), `ATLAS_CREDENTIALS_FILE ${file}, key ${name}`)
      }
    }
  }
  for (const [key, value] of Object.entries(env)) {
    const match = NAMED_KEY.exec(key)
    if (match === null || value === undefined || value === '') continue
    const name = credentialsName(match[1]!)
    parts.set(name, { ...parts.get(name), [match[2]!]: value })
    where.set(name, `ATLAS_CREDENTIALS_${match[1]!}_*`)
  }
  const named: Record<string, AtlasCredentials> = {}
  for (const [name, set] of parts) {
    const source = where.get(name) ?? name
    if (set.PUBLIC_KEY !== undefined && set.PRIVATE_KEY !== undefined && set.CLIENT_ID === undefined && set.CLIENT_SECRET === undefined) {
      named[name] = { kind: 'digest', publicKey: set.PUBLIC_KEY, privateKey: set.PRIVATE_KEY }
    } else if (set.CLIENT_ID !== undefined && set.CLIENT_SECRET !== undefined && set.PUBLIC_KEY === undefined && set.PRIVATE_KEY === undefined) {
      named[name] = { kind: 'service-account', clientId: set.CLIENT_ID, clientSecret: set.CLIENT_SECRET }
    } else {
      problems.push(`${source}: credentials ${name} need a public and private key, or a client id and secret (one pair, complete)`)
    }
  }
  return named
}

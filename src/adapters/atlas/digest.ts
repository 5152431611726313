/**
 * HTTP Digest (RFC 7616: MD5 or SHA-256, qop=auth or none) as Atlas and MongoDB's own digest transport use
 * it: shared by the client (which answers challenges) and the simulator (which issues and checks them).
 * Realm, algorithm and qop always come from the challenge.
 */
import { createHash, randomBytes } from 'node:crypto'

/** The realm Atlas's challenges carry (recorded); the client still takes whatever realm the challenge names. */
export const ATLAS_REALM = 'MMS Public API'

export type DigestAlgorithm = 'MD5' | 'SHA-256'

export function digestHash (algorithm: DigestAlgorithm, value: string): string {
  return createHash(algorithm === 'SHA-256' ? 'sha256' : 'md5').update(value).digest('hex')
}

/** Parses `Digest a="b", c=d, ...` into its parameters (keys lower-cased); undefined when not Digest. */
export function parseDigestParams (header: string | undefined): Record<string, string> | undefined {
  if (header === undefined) return undefined
  const match = /^\s*Digest\s+(.*)$/is.exec(header)
  if (match?.[1] === undefined) return undefined
  const params: Record<string, string> = {}
  const re = /([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g
  for (let m = re.exec(match[1]); m !== null; m = re.exec(match[1])) {
    params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '')
  }
  return params
}

/** The algorithm a challenge names (MD5 when it names none), or undefined when it is one we do not implement. */
export function challengeAlgorithm (value: string | undefined): DigestAlgorithm | undefined {
  const name = (value ?? 'MD5').toUpperCase()
  return name === 'MD5' ? 'MD5' : name === 'SHA-256' ? 'SHA-256' : undefined
}

/** The qop to answer with: `auth` when the challenge offers it, '' (RFC 2069) when it offers none. */
export function challengeQop (value: string | undefined): 'auth' | '' | undefined {
  if (value === undefined || value.trim() === '') return ''
  return value.split(',').map(q => q.trim()).includes('auth') ? 'auth' : undefined
}

export interface DigestAnswer {
  username: string
  realm: string
  nonce: string
  uri: string
  cnonce: string
  nc: string
  /** `auth`, or '' for a challenge without qop (then cnonce and nc are not sent). */
  qop: string
  response: string
  algorithm: DigestAlgorithm
  opaque?: string
}

/** The `response` value for the given credentials and request. */
export function digestResponse (a: {
  username: string, password: string, realm: string, method: string, uri: string, nonce: string, nc: string, cnonce: string, qop: string,
  algorithm?: DigestAlgorithm
}): string {
  const h = (value: string): string => digestHash(a.algorithm ?? 'MD5', value)
  const ha1 = h(`${a.username}:${a.realm}:${a.password}`)
  const ha2 = h(`${a.method}:${a.uri}`)
  return a.qop === '' ? h(`${ha1}:${a.nonce}:${ha2}`) : h(`${ha1}:${a.nonce}:${a.nc}:${a.cnonce}:${a.qop}:${ha2}`)
}

export function formatAuthorization (a: DigestAnswer): string {
  const parts = [`username="${a.username}"`, `realm="${a.realm}"`, `nonce="${a.nonce}"`, `uri="${a.uri}"`, `response="${a.response}"`, `algorithm=${a.algorithm}`]
  if (a.opaque !== undefined) parts.push(`opaque="${a.opaque}"`)
  if (a.qop !== '') parts.push(`qop=${a.qop}`, `nc=${a.nc}`, `cnonce="${a.cnonce}"`)
  return `Digest ${parts.join(', ')}`
}

export function newNonce (): string {
  return randomBytes(24).toString('base64')
}

export function newCnonce (): string {
  return randomBytes(8).toString('hex')
}

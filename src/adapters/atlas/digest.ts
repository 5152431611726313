/**
 * HTTP Digest (RFC 7616, MD5, qop=auth) as Atlas uses it: shared by the client (which answers challenges)
 * and the simulator (which issues and checks them).
 */
import { createHash, randomBytes } from 'node:crypto'

export const ATLAS_REALM = 'MMS Public API'

export function md5 (value: string): string {
  return createHash('md5').update(value).digest('hex')
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

export interface DigestAnswer {
  username: string
  realm: string
  nonce: string
  uri: string
  cnonce: string
  nc: string
  qop: string
  response: string
  algorithm: string
  opaque?: string
}

/** The `response` value for the given credentials and request. */
export function digestResponse (a: { username: string, password: string, realm: string, method: string, uri: string, nonce: string, nc: string, cnonce: string, qop: string }): string {
  const ha1 = md5(`${a.username}:${a.realm}:${a.password}`)
  const ha2 = md5(`${a.method}:${a.uri}`)
  return md5(`${ha1}:${a.nonce}:${a.nc}:${a.cnonce}:${a.qop}:${ha2}`)
}

export function formatAuthorization (a: DigestAnswer): string {
  const parts = [
    `username="${a.username}"`, `realm="${a.realm}"`, `nonce="${a.nonce}"`, `uri="${a.uri}"`,
    `cnonce="${a.cnonce}"`, `nc=${a.nc}`, `qop=${a.qop}`, `response="${a.response}"`, `algorithm=${a.algorithm}`
  ]
  if (a.opaque !== undefined) parts.push(`opaque="${a.opaque}"`)
  return `Digest ${parts.join(', ')}`
}

export function newNonce (): string {
  return randomBytes(24).toString('base64')
}

export function newCnonce (): string {
  return randomBytes(8).toString('hex')
}

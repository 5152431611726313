/**
 * Credential helpers: derived passwords (HMAC, never stored), sealing of passwords that cannot be derived
 * (AES-256-GCM with a key derived from the broker's secret), and connection strings with credentials.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto'
import type { Endpoint } from '../ports/service-broker.js'

/** A password derived from the secret, the binding id and a purpose: 43 URL-safe characters. */
export function derivePassword (secret: string, bindingId: string, purpose = 'password'): string {
  return createHmac('sha256', secret).update(`atlas-broker:${purpose}:${bindingId}`).digest('base64url')
}

function sealingKey (secret: string): Buffer {
  return createHash('sha256').update(`atlas-broker:seal:${secret}`).digest()
}

/** Encrypts a value with the broker key; the result is `v1.<iv>.<tag>.<ciphertext>` in base64url. */
export function seal (secret: string, plaintext: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', sealingKey(secret), iv)
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.')
}

/** Decrypts what `seal` produced; throws when the secret is wrong or the value was altered. */
export function unseal (secret: string, sealed: string): string {
  const [version, iv, tag, data] = sealed.split('.')
  if (version !== 'v1' || iv === undefined || tag === undefined || data === undefined) throw new Error('unknown sealed value format')
  const decipher = createDecipheriv('aes-256-gcm', sealingKey(secret), Buffer.from(iv, 'base64url'))
  decipher.setAuthTag(Buffer.from(tag, 'base64url'))
  return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8')
}

/**
 * Inserts `user:password@` after the scheme and `/<database>` as the path, keeping hosts and options,
 * and makes sure `authSource=admin` (Atlas SCRAM users live in admin). Returns undefined for an empty input.
 */
export function connectionUri (base: string | undefined, username: string, password: string, database: string): string | undefined {
  return signInUri(base, database, { username, password }, { authSource: 'admin' })
}

/**
 * A connection string for any way of signing in: `user:password@` only when `login` is given (passwordless
 * mechanisms take their identity from the environment or a certificate), `/<database>` as the path, and the
 * sign-in `options` (authSource, authMechanism, ...) set over whatever the base says; hosts and the base's
 * other options are kept. Returns undefined for an empty or unparseable base.
 */
export function signInUri (
  base: string | undefined, database: string, login: { username: string, password: string } | undefined, signIn: Record<string, string>
): string | undefined {
  if (base === undefined || base === '') return undefined
  const match = /^(mongodb(?:\+srv)?:\/\/)(?:[^@/]*@)?([^/?]+)\/?([^?]*)(?:\?(.*))?$/.exec(base)
  if (match === null) return undefined
  const [, scheme, hosts, , query] = match
  const options = new URLSearchParams(query ?? '')
  for (const [key, value] of Object.entries(signIn)) options.set(key, value)
  if (scheme === 'mongodb+srv://' && !options.has('retryWrites')) options.set('retryWrites', 'true')
  if (!options.has('w')) options.set('w', 'majority')
  const userinfo = login === undefined ? '' : `${encodeURIComponent(login.username)}:${encodeURIComponent(login.password)}@`
  return `${scheme}${userinfo}${hosts}/${encodeURIComponent(database)}?${options.toString()}`
}

/** Hosts and ports of a standard (non-SRV) connection string, as OSB endpoints. */
export function endpointsOf (standard: string | undefined): Endpoint[] | undefined {
  if (standard === undefined) return undefined
  const match = /^mongodb:\/\/(?:[^@/]*@)?([^/?]+)/.exec(standard)
  if (match?.[1] === undefined) return undefined
  return match[1].split(',').map(hostPort => {
    const at = hostPort.lastIndexOf(':')
    const host = at > 0 ? hostPort.slice(0, at) : hostPort
    const port = at > 0 ? hostPort.slice(at + 1) : '27017'
    return { host, ports: [port], protocol: 'tcp' as const }
  })
}

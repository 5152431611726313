/**
 * Cross-cutting OSB rules, applied in `onRequest` so they run before routing, body parsing and validation
 * (checklist Z2): echo the request identity (A6, Z11), basic auth (A8, 401), the API version (Z1, 412),
 * and the originating identity (A4, parsed and logged, never required). Also the JSON body parser that
 * takes an empty body as `{}` (Z8).
 */
import { timingSafeEqual } from 'node:crypto'
import fastifyBasicAuth from '@fastify/basic-auth'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { OriginatingIdentity, RequestMeta } from '../../ports/service-broker.js'

export const REQUEST_IDENTITY_HEADER = 'x-broker-api-request-identity'
export const ORIGINATING_IDENTITY_HEADER = 'x-broker-api-originating-identity'
export const API_VERSION_HEADER = 'x-broker-api-version'
export const SUPPORTED_API_VERSION = '2.17'

export interface BrokerCredentials {
  username: string
  password: string
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Route served without broker auth and version header (health probes). */
    public?: boolean
    /** Route served without the X-Broker-API-Version header, still behind auth unless public (metrics). */
    versionless?: boolean
  }
  interface FastifyRequest {
    osbMeta?: RequestMeta
  }
}

/** Errors raised by the hooks; the error handler turns them into OSB bodies. */
export class HttpError extends Error {
  readonly statusCode: number
  constructor (statusCode: number, message: string) {
    super(message)
    this.statusCode = statusCode
    this.name = 'HttpError'
  }
}

/**
 * Constant-time check of a presented string against a secret one. Both sides are written into buffers of
 * one fixed size (the secret's length rounded up to a multiple of 128 bytes), so the work done never depends
 * on the secret's content, nor on its length within that 128-byte step: only on the presented value, which
 * the client already knows. Presented values longer than the buffer can never match. About four times
 * cheaper per request than hashing both sides (brokerapi's way to equalise lengths). Synchronous: the
 * scratch buffer is never shared across an await.
 */
export class SecretMatcher {
  private readonly expected: Buffer
  private readonly expectedLength: number
  private readonly scratch: Buffer

  constructor (secret: string) {
    const bytes = Buffer.from(secret, 'utf8')
    const size = Math.max(1, Math.ceil(bytes.length / 128)) * 128
    this.expected = Buffer.alloc(size)
    bytes.copy(this.expected)
    this.expectedLength = bytes.length
    this.scratch = Buffer.alloc(size)
  }

  matches (presented: string): boolean {
    const written = this.scratch.write(presented, 'utf8')
    this.scratch.fill(0, written)
    const same = timingSafeEqual(this.scratch, this.expected)
    // Compared after the full-width comparison, so a length mismatch costs the same as a content mismatch.
    return same && Buffer.byteLength(presented, 'utf8') === this.expectedLength
  }
}

/** The broker's credentials as basic auth decodes them: both fields in one constant-time comparison. */
export class CredentialsMatcher {
  private readonly secret: SecretMatcher

  constructor (credentials: BrokerCredentials) {
    this.secret = new SecretMatcher(`${credentials.username}\u0000${credentials.password}`)
  }

  matches (username: string, password: string): boolean {
    return this.secret.matches(`${username}\u0000${password}`)
  }
}

/** Any 2.x X-Broker-API-Version is accepted (the broker implements 2.17; minor versions are compatible). */
export function acceptsApiVersion (version: string): boolean {
  return /^2\.\d+$/.test(version.trim())
}

export function parseOriginatingIdentity (header: string | undefined): OriginatingIdentity | undefined {
  if (header === undefined) return undefined
  const [platform, encoded, ...rest] = header.trim().split(/\s+/)
  if (platform === undefined || platform === '' || encoded === undefined || rest.length > 0) return undefined
  try {
    const value: unknown = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'))
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
    return { platform, value: value as Record<string, unknown> }
  } catch {
    return undefined
  }
}

/** Deepest JSON nesting a request body may have (MongoDB itself allows 100 levels of documents). */
export const MAX_JSON_DEPTH = 64

/** True when brackets nest deeper than `max` outside strings: checked before parsing, in one linear pass. */
export function nestingExceeds (text: string, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true
    } else if (c === 0x7d || c === 0x5d) {
      depth--
    }
  }
  return false
}

export interface OsbHookOptions {
  /** Failed attempts per minute one (client, username) may make before further wrong attempts get 429. */
  authFailuresPerMinute?: number
  /** Told of each failed login: `delayed` (answered 401 after a pause) or `limited` (answered 429). */
  onAuthFailure?: (outcome: 'delayed' | 'limited') => void
  /** Longest pause before a 401 (the n-th failure in a window waits 100 ms · 2ⁿ⁻¹, up to this). */
  maxAuthDelayMs?: number
}

/**
 * Failed logins per (client address, username) in one-minute windows. Only wrong credentials count: a request
 * with the right ones is always accepted, whatever others did from the same address, and one without an
 * Authorization header is a plain 401. Each failure is answered after a growing pause; past the limit,
 * wrong attempts get 429 at once (no pause, so a flood holds no sockets). Memory is bounded.
 */
export class LoginLimiter {
  private readonly windows = new Map<string, { count: number, since: number }>()
  private readonly limit: number
  private readonly maxDelayMs: number

  constructor (limit: number, maxDelayMs = 2000) {
    this.limit = limit
    this.maxDelayMs = maxDelayMs
  }

  /** Records a failure; says how to answer it: after `delayMs`, or 429 for `retryAfterSeconds`. */
  fail (client: string, username: string, now: number): { delayMs: number, retryAfterSeconds?: number, firstLimited?: boolean } {
    const key = `${client}\u0000${username}`
    let w = this.windows.get(key)
    if (w === undefined || now - w.since >= 60_000) {
      if (this.windows.size >= 10_000) this.prune(now)
      w = { count: 0, since: now }
      this.windows.set(key, w)
    }
    w.count++
    if (w.count > this.limit) {
      return { delayMs: 0, retryAfterSeconds: Math.max(1, Math.ceil((w.since + 60_000 - now) / 1000)), firstLimited: w.count === this.limit + 1 }
    }
    return { delayMs: Math.min(this.maxDelayMs, 100 * 2 ** (w.count - 1)) }
  }

  private prune (now: number): void {
    for (const [key, w] of this.windows) if (now - w.since >= 60_000) this.windows.delete(key)
    if (this.windows.size >= 10_000) this.windows.clear()
  }
}

/** The username a failed Basic login presented (set by the validator, read by the hook). */
const failedUsername = Symbol('failedUsername')

export async function registerOsbHooks (app: FastifyInstance, credentials: BrokerCredentials, options: OsbHookOptions = {}): Promise<void> {
  const limiter = new LoginLimiter(options.authFailuresPerMinute ?? 20, options.maxAuthDelayMs)
  const matcher = new CredentialsMatcher(credentials)
  await app.register(fastifyBasicAuth, {
    authenticate: { realm: 'atlas-broker' },
    // Callback style, answered synchronously: a promise per request costs more than the comparison.
    // One constant-time comparison over both fields.
    validate (username, password, request, _reply, done) {
      if (matcher.matches(username, password)) { done(); return }
      (request as unknown as Record<symbol, string>)[failedUsername] = username
      done(new HttpError(401, 'invalid broker credentials'))
    }
  })

  // One hook, in this order: echo the request identity, limit failed logins, basic auth, API version,
  // originating identity. It runs before routing's body parsing and validation.
  app.addHook('onRequest', (request, reply, done) => {
    const identity = request.headers[REQUEST_IDENTITY_HEADER]
    if (typeof identity === 'string' && identity !== '') void reply.header('X-Broker-API-Request-Identity', identity)
    const config = request.routeOptions.config
    if (config.public === true) { done(); return }
    void app.basicAuth(request, reply, (err?: Error) => {
      if (err !== undefined) {
        const username = (request as unknown as Record<symbol, string | undefined>)[failedUsername]
        // No (or an unreadable) Authorization header is not a guess: a plain 401.
        if (username === undefined) { done(err); return }
        const verdict = limiter.fail(request.ip, username, Date.now())
        if (verdict.retryAfterSeconds !== undefined) {
          options.onAuthFailure?.('limited')
          if (verdict.firstLimited === true) request.log.warn({ client: request.ip, username }, 'login limited: too many failed attempts for this username from this client')
          void reply.header('Retry-After', String(verdict.retryAfterSeconds))
          done(new HttpError(429, 'too many failed authentication attempts; retry later'))
          return
        }
        options.onAuthFailure?.('delayed')
        setTimeout(() => done(err), verdict.delayMs)
        return
      }
      if (config.versionless === true) { done(); return }
      const version = request.headers[API_VERSION_HEADER]
      if (typeof version !== 'string' || !acceptsApiVersion(version)) {
        const got = typeof version === 'string' && version !== '' ? `'${version}'` : 'missing'
        done(new HttpError(412, `X-Broker-API-Version ${got}: this broker implements OSB API ${SUPPORTED_API_VERSION} and accepts any 2.x`))
        return
      }
      const header = request.headers[ORIGINATING_IDENTITY_HEADER]
      const originatingIdentity = parseOriginatingIdentity(typeof header === 'string' ? header : undefined)
      if (header !== undefined && originatingIdentity === undefined) {
        request.log.warn('ignoring an unparsable X-Broker-API-Originating-Identity header')
      }
      const meta: RequestMeta = {}
      if (typeof identity === 'string' && identity !== '') meta.requestIdentity = identity
      if (originatingIdentity !== undefined) meta.originatingIdentity = originatingIdentity
      request.osbMeta = meta
      // Every line of the request names who asked for it (the access-log line names the user too).
      if (originatingIdentity !== undefined) request.log = request.log.child({ originatingIdentity })
      done()
    })
  })

  // Platforms send DELETE with Content-Type: application/json and no body (Z8); bodies of any other type
  // are read as JSON too (A14 allows it) and fail with 400 when they are not.
  const defaultJson = app.getDefaultJsonParser('error', 'error')
  const parser = (request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void): void => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (text.trim() === '') { done(null, {}); return }
    if (nestingExceeds(text, MAX_JSON_DEPTH)) {
      done(new HttpError(400, `malformed request: JSON nested deeper than ${MAX_JSON_DEPTH} levels`))
      return
    }
    defaultJson(request, text, done)
  }
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parser)
  app.addContentTypeParser('*', { parseAs: 'string' }, parser)
}

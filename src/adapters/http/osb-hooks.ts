/**
 * Cross-cutting OSB rules, applied in `onRequest` so they run before routing, body parsing and validation
 * (checklist Z2): echo the request identity (A6, Z11), basic auth (A8, 401), the API version (Z1, 412),
 * and the originating identity (A4, parsed and logged, never required). Also the JSON body parser that
 * takes an empty body as `{}` (Z8).
 */
import { timingSafeEqual } from 'node:crypto'
import fastifyBasicAuth from '@fastify/basic-auth'
import { type FastifyInstance, type FastifyRequest } from 'fastify'
import { type OriginatingIdentity, type RequestMeta } from '../../ports/service-broker.js'

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
 * Constant-time check of presented credentials against the configured ones. Both sides are written into
 * buffers of one fixed size (the secret's length rounded up to a multiple of 128 bytes), so the work done
 * never depends on the secret's content, nor on its length within that 128-byte step: only on the presented
 * value, which the client already knows. Presented values longer than the buffer can never match. About four
 * times cheaper per request than hashing both sides (brokerapi's way to equalise lengths). Synchronous: the
 * scratch buffer is never shared across an await.
 */
export class CredentialsMatcher {
  private readonly expected: Buffer
  private readonly expectedLength: number
  private readonly scratch: Buffer

  constructor (credentials: BrokerCredentials) {
    const secret = Buffer.from(`${credentials.username}\u0000${credentials.password}`, 'utf8')
    const size = Math.max(1, Math.ceil(secret.length / 128)) * 128
    this.expected = Buffer.alloc(size)
    secret.copy(this.expected)
    this.expectedLength = secret.length
    this.scratch = Buffer.alloc(size)
  }

  matches (username: string, password: string): boolean {
    const presented = `${username}\u0000${password}`
    const written = this.scratch.write(presented, 'utf8')
    this.scratch.fill(0, written)
    const same = timingSafeEqual(this.scratch, this.expected)
    // Compared after the full-width comparison, so a length mismatch costs the same as a content mismatch.
    return same && Buffer.byteLength(presented, 'utf8') === this.expectedLength
  }
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

export interface OsbHookOptions {
  /** Failed basic-auth attempts a client (IP) may make per minute before it gets 429s. */
  authFailuresPerMinute?: number
}

/** Counts failed logins per client in fixed one-minute windows; memory is bounded. */
class AuthFailures {
  private readonly windows = new Map<string, { count: number, since: number }>()
  private readonly limit: number
  constructor (limit: number) { this.limit = limit }

  /** Seconds until the client may try again, or 0 when it may try now. */
  blockedFor (client: string, now: number): number {
    const w = this.windows.get(client)
    if (w === undefined || now - w.since >= 60_000 || w.count < this.limit) return 0
    return Math.ceil((w.since + 60_000 - now) / 1000)
  }

  fail (client: string, now: number): void {
    const w = this.windows.get(client)
    if (w === undefined || now - w.since >= 60_000) {
      if (this.windows.size >= 10_000) this.prune(now)
      this.windows.set(client, { count: 1, since: now })
    } else {
      w.count++
    }
  }

  private prune (now: number): void {
    for (const [client, w] of this.windows) if (now - w.since >= 60_000) this.windows.delete(client)
    if (this.windows.size >= 10_000) this.windows.clear()
  }
}

export async function registerOsbHooks (app: FastifyInstance, credentials: BrokerCredentials, options: OsbHookOptions = {}): Promise<void> {
  const failures = new AuthFailures(options.authFailuresPerMinute ?? 20)
  const matcher = new CredentialsMatcher(credentials)
  await app.register(fastifyBasicAuth, {
    authenticate: { realm: 'atlas-broker' },
    // Callback style, answered synchronously: a promise per request costs more than the comparison.
    // One constant-time comparison over both fields.
    validate (username, password, _request, _reply, done) {
      if (matcher.matches(username, password)) done()
      else done(new HttpError(401, 'invalid broker credentials'))
    }
  })

  // One hook, in this order: echo the request identity, limit failed logins, basic auth, API version,
  // originating identity. It runs before routing's body parsing and validation.
  app.addHook('onRequest', (request, reply, done) => {
    const identity = request.headers[REQUEST_IDENTITY_HEADER]
    if (typeof identity === 'string' && identity !== '') void reply.header('X-Broker-API-Request-Identity', identity)
    const config = request.routeOptions.config
    if (config.public === true) { done(); return }
    const wait = failures.blockedFor(request.ip, Date.now())
    if (wait > 0) {
      void reply.header('Retry-After', String(wait))
      done(new HttpError(429, 'too many failed authentication attempts from this client; retry later'))
      return
    }
    void app.basicAuth(request, reply, (err?: Error) => {
      if (err !== undefined) {
        failures.fail(request.ip, Date.now())
        done(err)
        return
      }
      if (config.versionless === true) { done(); return }
      const version = request.headers[API_VERSION_HEADER]
      if (typeof version !== 'string' || !/^2\.\d+$/.test(version.trim())) {
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
      if (originatingIdentity !== undefined) {
        request.log = request.log.child({ originatingIdentity })
        request.log.info({ method: request.method, url: request.url }, 'originating identity')
      }
      done()
    })
  })

  // Platforms send DELETE with Content-Type: application/json and no body (Z8); bodies of any other type
  // are read as JSON too (A14 allows it) and fail with 400 when they are not.
  const defaultJson = app.getDefaultJsonParser('error', 'error')
  const parser = (request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void): void => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (text.trim() === '') { done(null, {}); return }
    defaultJson(request, text, done)
  }
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parser)
  app.addContentTypeParser('*', { parseAs: 'string' }, parser)
}

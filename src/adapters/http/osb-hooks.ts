/**
 * Cross-cutting OSB rules, applied in `onRequest` so they run before routing, body parsing and validation
 * (checklist Z2): echo the request identity (A6, Z11), basic auth (A8, 401), the API version (Z1, 412),
 * and the originating identity (A4, parsed and logged, never required). Also the JSON body parser that
 * takes an empty body as `{}` (Z8).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import fastifyBasicAuth from '@fastify/basic-auth'
import { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
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

function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

/** Constant-time comparison of both fields: hashing first makes the lengths equal (as brokerapi does). */
export function credentialsMatch (expected: BrokerCredentials, username: string, password: string): boolean {
  const userOk = timingSafeEqual(digest(expected.username), digest(username))
  const passOk = timingSafeEqual(digest(expected.password), digest(password))
  return userOk && passOk
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
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const identity = request.headers[REQUEST_IDENTITY_HEADER]
    if (typeof identity === 'string' && identity !== '') reply.header('X-Broker-API-Request-Identity', identity)
  })

  await app.register(fastifyBasicAuth, {
    authenticate: { realm: 'atlas-broker' },
    validate: async (username, password) => {
      if (!credentialsMatch(credentials, username, password)) throw new HttpError(401, 'invalid broker credentials')
    }
  })
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.public === true) return
    const wait = failures.blockedFor(request.ip, Date.now())
    if (wait > 0) {
      void reply.header('Retry-After', String(wait))
      throw new HttpError(429, 'too many failed authentication attempts from this client; retry later')
    }
    try {
      await new Promise<void>((resolve, reject) => {
        void app.basicAuth(request, reply, (err?: Error) => { if (err === undefined) resolve(); else reject(err) })
      })
    } catch (err) {
      failures.fail(request.ip, Date.now())
      throw err
    }
  })

  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (request.routeOptions.config.public === true || request.routeOptions.config.versionless === true) return
    const version = request.headers[API_VERSION_HEADER]
    if (typeof version !== 'string' || !/^2\.\d+$/.test(version.trim())) {
      const got = typeof version === 'string' && version !== '' ? `'${version}'` : 'missing'
      throw new HttpError(412, `X-Broker-API-Version ${got}: this broker implements OSB API ${SUPPORTED_API_VERSION} and accepts any 2.x`)
    }
    const header = request.headers[ORIGINATING_IDENTITY_HEADER]
    const originatingIdentity = parseOriginatingIdentity(typeof header === 'string' ? header : undefined)
    if (header !== undefined && originatingIdentity === undefined) {
      request.log.warn('ignoring an unparsable X-Broker-API-Originating-Identity header')
    }
    const requestIdentity = request.headers[REQUEST_IDENTITY_HEADER]
    request.osbMeta = {
      ...(originatingIdentity === undefined ? {} : { originatingIdentity }),
      ...(typeof requestIdentity === 'string' && requestIdentity !== '' ? { requestIdentity } : {})
    }
    if (originatingIdentity !== undefined) {
      request.log = request.log.child({ originatingIdentity })
      request.log.info({ method: request.method, url: request.url }, 'originating identity')
    }
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

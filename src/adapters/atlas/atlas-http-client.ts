/**
 * The HTTP layer of the Atlas adapter (undici 7): authentication (./atlas-auth.ts), versioned media types,
 * a User-Agent as MongoDB's clients send (`name/version (os; arch)`), per-request timeouts, retries within
 * the caller's deadline, keep-alive connection reuse, and Atlas's answers as AtlasPort errors
 * (./atlas-errors.ts).
 *
 * Retries follow Atlas's advice: Retry-After when it says; otherwise exponential backoff with jitter at
 * Atlas's scale (a second, doubling, capped), never so long that the call's deadline passes.
 */
import type * as UndiciModule from 'undici'
import type { Dispatcher } from 'undici'

type Undici = typeof UndiciModule
let undici: Promise<Undici> | undefined
/** undici, loaded at the first call to Atlas rather than at start-up (memory and start-up time of a broker that has made none). */
async function loadUndici (): Promise<Undici> {
  undici ??= import('undici')
  return await undici
}
import { AtlasError, AtlasRateLimitedError, AtlasUnavailableError } from '../../ports/atlas-port.js'
import { DigestAuth, ServiceAccountAuth, type Token } from './atlas-auth.js'
import { type AtlasEnvelope, type AtlasRole, PERMISSION_CODES, toAtlasError, tokenError } from './atlas-errors.js'

export type AtlasCredentials =
  | { kind: 'digest', publicKey: string, privateKey: string }
  | { kind: 'service-account', clientId: string, clientSecret: string }

export interface AtlasHttpOptions {
  baseUrl: string
  credentials: AtlasCredentials
  /** Timeout of one HTTP exchange. */
  requestTimeoutMs?: number
  /** Retries of a retryable failure (429 always; 5xx and connection errors for idempotent calls). */
  maxRetries?: number
  /** Backoff base: the n-th retry waits between half and all of base·2ⁿ (capped), or Retry-After if Atlas sends one. */
  backoffBaseMs?: number
  backoffMaxMs?: number
  /** Budget of a call when the caller gives no deadline. */
  defaultBudgetMs?: number
  /** `atlas-broker/<version> (<os>; <arch>)`. */
  userAgent?: string
  dispatcher?: Dispatcher
  /** Observer of each HTTP exchange (metrics, tests). */
  onExchange?: (event: { method: string, path: string, status: number | undefined, attempt: number, ms: number }) => void
  /** Told once when Atlas refuses reused digest nonces and the client switches to a fresh challenge per request. */
  onDigestReuseRefused?: () => void
}

export interface AtlasRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  /** Path under /api/atlas/v2, e.g. `/groups/{id}/clusters`, with its query string. */
  path: string
  /** The operation's media-type version, e.g. `2023-01-01`. */
  version: string
  body?: unknown
  /** Safe to repeat after a 5xx or connection failure. */
  idempotent: boolean
  deadline?: number
  /** Strings to remove from any error detail (e.g. a password sent in the body). */
  secrets?: string[]
  /** The role the call needs, named in the error when the credentials lack it. */
  needs?: AtlasRole
  /** The answer is text, not JSON (a certificate's PEM, which Atlas labels as JSON all the same). */
  text?: boolean
}

export interface AtlasResponse<T> {
  status: number
  body: T
}

function sleep (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}

/**
 * A signal that aborts as `AbortSignal.timeout` does (with a TimeoutError), whose timer the caller clears once
 * the exchange is over: `AbortSignal.timeout`'s own timer, and the weak references it holds, stay alive until
 * it fires, one per Atlas call for the whole request timeout.
 */
function timeoutSignal (ms: number): { signal: AbortSignal, clear: () => void } {
  const controller = new AbortController()
  const timer = setTimeout(() => { controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')) }, ms)
  return { signal: controller.signal, clear: () => { clearTimeout(timer) } }
}

function retryAfterMs (value: string | string[] | undefined): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value
  if (raw === undefined) return undefined
  const seconds = Number(raw)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const at = Date.parse(raw)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}

function headerValue (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

function parseJson<T> (text: string): T | undefined {
  try { return JSON.parse(text) as T } catch { return undefined }
}

export class AtlasHttpClient {
  private readonly base: URL
  private dispatcher: Dispatcher | undefined
  private readonly ownsDispatcher: boolean
  private readonly digest: DigestAuth | undefined
  private readonly oauth: ServiceAccountAuth | undefined
  private readonly options: Required<Pick<AtlasHttpOptions, 'requestTimeoutMs' | 'maxRetries' | 'backoffBaseMs' | 'backoffMaxMs' | 'defaultBudgetMs' | 'userAgent'>>
  private readonly onExchange: AtlasHttpOptions['onExchange']

  constructor (options: AtlasHttpOptions) {
    this.base = new URL(options.baseUrl)
    this.ownsDispatcher = options.dispatcher === undefined
    this.dispatcher = options.dispatcher
    this.options = {
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      maxRetries: options.maxRetries ?? 4,
      backoffBaseMs: options.backoffBaseMs ?? 1000,
      backoffMaxMs: options.backoffMaxMs ?? 16_000,
      defaultBudgetMs: options.defaultBudgetMs ?? 45_000,
      userAgent: options.userAgent ?? `atlas-broker (${process.platform}; ${process.arch})`
    }
    this.onExchange = options.onExchange
    const creds = options.credentials
    if (creds.kind === 'digest') {
      this.digest = new DigestAuth(creds.publicKey, creds.privateKey, options.onDigestReuseRefused)
    } else {
      this.oauth = new ServiceAccountAuth(creds.clientId, creds.clientSecret, {
        fetch: async (basic, deadline) => await this.fetchToken(basic, deadline),
        revoke: async (basic, token) => { await this.revokeToken(basic, token) }
      })
    }
  }

  /** Whether digest nonces are still reused (false once Atlas refused a reused one). */
  get reusesDigestNonces (): boolean {
    return this.digest?.reusesNonces ?? false
  }

  /** Revokes the service-account token (best effort, bounded) and closes the connections. */
  async close (): Promise<void> {
    await this.oauth?.revoke()
    if (this.ownsDispatcher) await this.dispatcher?.close()
  }

  /** undici's request and the connection pool (made with the first call). */
  private async http (): Promise<{ request: Undici['request'], dispatcher: Dispatcher }> {
    const { Agent, request } = await loadUndici()
    this.dispatcher ??= new Agent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000, connections: 32 })
    return { request, dispatcher: this.dispatcher }
  }

  /** The wait before retry `attempt` (0-based): Retry-After when given, else equal-jitter exponential backoff. */
  backoffMs (attempt: number, retryAfter: number | undefined): number {
    const step = Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** attempt)
    return Math.max(step / 2 + Math.random() * step / 2, retryAfter ?? 0)
  }

  /** Sends one Atlas API call, retrying what may be retried, and returns the parsed body. */
  async send<T> (req: AtlasRequest): Promise<AtlasResponse<T>> {
    const deadline = req.deadline ?? Date.now() + this.options.defaultBudgetMs
    const pathAndQuery = `/api/atlas/v2${req.path}`
    const mediaType = `application/vnd.atlas.${req.version}+json`
    const payload = req.body === undefined ? undefined : JSON.stringify(req.body)
    let challengesAnswered = 0
    let tokenRefreshed = false
    // Digest: the Authorization of the next attempt, and whether it carries a reused nonce.
    let authorization = this.digest?.first(req.method, pathAndQuery)
    let reused = authorization !== undefined
    let reuseRefused = false
    let token: Token | undefined
    let lastError: AtlasError | undefined
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - Date.now()
      if (remaining <= 0) throw lastError ?? new AtlasUnavailableError(`no time left for ${req.method} ${req.path}`)
      const headers: Record<string, string> = { accept: mediaType, 'user-agent': this.options.userAgent }
      if (payload !== undefined) headers['content-type'] = mediaType
      if (this.oauth !== undefined) {
        token = await this.oauth.current(deadline)
        headers.authorization = `Bearer ${token.value}`
      } else if (authorization !== undefined) {
        headers.authorization = authorization
      }

      const started = Date.now()
      let retryable = false
      let waitHint: number | undefined
      const timeout = timeoutSignal(Math.min(this.options.requestTimeoutMs, remaining))
      try {
        const { request, dispatcher } = await this.http()
        const response = await request(new URL(pathAndQuery, this.base), {
          method: req.method,
          headers,
          ...(payload === undefined ? {} : { body: payload }),
          dispatcher,
          signal: timeout.signal
        })
        const status = response.statusCode
        const text = await response.body.text()
        this.onExchange?.({ method: req.method, path: req.path, status, attempt, ms: Date.now() - started })
        if (status >= 200 && status < 300) {
          if (reuseRefused) this.digest?.reuseRefused()
          return { status, body: (req.text === true ? text : text === '' ? undefined : JSON.parse(text)) as T }
        }
        const envelope = parseJson<AtlasEnvelope>(text)
        const permission = envelope?.errorCode !== undefined && PERMISSION_CODES.has(envelope.errorCode)
        if (status === 401 && !permission) {
          // Digest: a challenge (the first call, a stale nonce, a refused reuse). Answered at most twice per
          // call, so wrong keys fail fast. Bearer: one refresh per token.
          const challenge = headerValue(response.headers['www-authenticate'])
          if (this.digest !== undefined && challengesAnswered < 2) {
            const answer = this.digest.answer(challenge, req.method, pathAndQuery)
            if (answer !== undefined && 'unsupported' in answer) {
              throw toAtlasError(401, { detail: `Atlas asked for digest ${answer.unsupported}, which the broker does not implement`, errorCode: 'UNSUPPORTED_DIGEST' })
            }
            if (answer !== undefined) {
              challengesAnswered++
              reuseRefused ||= reused && parseDigestStale(challenge) === false
              reused = false
              authorization = answer.header
              attempt--
              continue
            }
          }
          if (this.oauth !== undefined && token !== undefined && !tokenRefreshed) {
            tokenRefreshed = true
            this.oauth.rejected(token)
            attempt--
            continue
          }
        }
        lastError = toAtlasError(status, envelope, req.secrets, req.needs)
        waitHint = retryAfterMs(response.headers['retry-after'])
        if (lastError instanceof AtlasRateLimitedError && waitHint !== undefined) {
          lastError = new AtlasRateLimitedError(lastError.message, { status, ...(lastError.errorCode === undefined ? {} : { errorCode: lastError.errorCode }), retryAfterSeconds: Math.ceil(waitHint / 1000) })
        }
        retryable = status === 429 || status === 503 || ((status >= 500 || status === 408) && req.idempotent)
        if (!retryable) throw lastError
      } catch (err) {
        if (err instanceof AtlasError) {
          if (!retryable) throw err
        } else {
          this.onExchange?.({ method: req.method, path: req.path, status: undefined, attempt, ms: Date.now() - started })
          if (err instanceof SyntaxError) throw new AtlasUnavailableError(`Atlas answered ${req.method} ${req.path} with invalid JSON`, { cause: err })
          const reason = err instanceof Error ? (err.name === 'TimeoutError' ? 'timed out' : err.message) : String(err)
          lastError = new AtlasUnavailableError(`${req.method} ${req.path}: ${reason}`, { cause: err })
          if (!req.idempotent) throw lastError
        }
      } finally {
        timeout.clear()
      }
      if (attempt >= this.options.maxRetries) throw lastError ?? new AtlasUnavailableError(`${req.method} ${req.path} failed`)
      const wait = this.backoffMs(attempt, waitHint)
      if (Date.now() + wait >= deadline) throw lastError ?? new AtlasUnavailableError(`${req.method} ${req.path} failed`)
      await sleep(wait)
      // A retry is a new request: a fresh nonce count (or a fresh challenge) and its own two challenge answers.
      authorization = this.digest?.first(req.method, pathAndQuery)
      reused = authorization !== undefined
      challengesAnswered = 0
    }
  }

  /** POST /api/oauth/token; 429s (Atlas allows 50 a minute), 5xx and connection errors are retried within the deadline. */
  private async fetchToken (basic: string, deadline: number): Promise<{ access_token: string, expires_in: number }> {
    for (let attempt = 0; ; attempt++) {
      let failure: AtlasError
      let waitHint: number | undefined
      const timeout = timeoutSignal(Math.max(1, Math.min(this.options.requestTimeoutMs, deadline - Date.now())))
      try {
        const { request, dispatcher } = await this.http()
        const response = await request(new URL('/api/oauth/token', this.base), {
          method: 'POST',
          headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': this.options.userAgent },
          body: 'grant_type=client_credentials',
          dispatcher,
          signal: timeout.signal
        })
        const text = await response.body.text()
        const body = parseJson<{ access_token?: unknown, expires_in?: unknown, error?: unknown } & AtlasEnvelope>(text)
        if (response.statusCode === 200) {
          if (typeof body?.access_token !== 'string') throw tokenError(502, { detail: 'the token answer has no access_token' })
          return { access_token: body.access_token, expires_in: typeof body.expires_in === 'number' ? body.expires_in : 3600 }
        }
        failure = tokenError(response.statusCode, body)
        waitHint = retryAfterMs(response.headers['retry-after'])
        if (response.statusCode !== 429 && response.statusCode < 500) throw failure
      } catch (err) {
        if (err instanceof AtlasError && !(err instanceof AtlasRateLimitedError) && !(err instanceof AtlasUnavailableError)) throw err
        failure = err instanceof AtlasError
          ? err
          : new AtlasUnavailableError(`service account token request failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
      } finally {
        timeout.clear()
      }
      const wait = this.backoffMs(attempt, waitHint)
      if (attempt >= this.options.maxRetries || Date.now() + wait >= deadline) throw failure
      await sleep(wait)
    }
  }

  private async revokeToken (basic: string, token: string): Promise<void> {
    const { request, dispatcher } = await this.http()
    const timeout = timeoutSignal(Math.min(this.options.requestTimeoutMs, 2000))
    try {
      const response = await request(new URL('/api/oauth/revoke', this.base), {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', 'user-agent': this.options.userAgent },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        dispatcher,
        signal: timeout.signal
      })
      await response.body.dump()
    } finally {
      timeout.clear()
    }
  }
}

function parseDigestStale (challenge: string | undefined): boolean | undefined {
  const stale = /stale\s*=\s*"?(true|false)"?/i.exec(challenge ?? '')?.[1]
  return stale === undefined ? undefined : stale.toLowerCase() === 'true'
}

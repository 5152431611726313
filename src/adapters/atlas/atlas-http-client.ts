/**
 * The HTTP layer of the Atlas adapter (undici 7): authentication (Digest with nonce reuse, or service
 * account bearer tokens), versioned media types, per-request timeouts, retries with exponential backoff
 * and jitter (honouring Retry-After) within the caller's deadline, keep-alive connection reuse, and the
 * translation of Atlas's error envelope into AtlasPort errors, keyed on `errorCode`.
 */
import { Agent, type Dispatcher, request } from 'undici'
import {
  type AtlasErrorDetails, AtlasAuthError, AtlasError, AtlasRateLimitedError, AtlasRequestError, AtlasUnavailableError,
  ClusterNotFoundError, DatabaseUserExistsError, DatabaseUserNotFoundError, DuplicateClusterNameError, ProjectNotFoundError,
  TerminationProtectedError
} from '../../ports/atlas-port.js'
import { ATLAS_REALM, digestResponse, formatAuthorization, newCnonce, parseDigestParams } from './digest.js'

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
  /** Backoff base; the n-th retry waits a random time up to base·2ⁿ (capped), or Retry-After if longer. */
  backoffBaseMs?: number
  backoffMaxMs?: number
  /** Budget of a call when the caller gives no deadline. */
  defaultBudgetMs?: number
  dispatcher?: Dispatcher
  /** Observer of each HTTP exchange (metrics, tests). */
  onExchange?: (event: { method: string, path: string, status: number | undefined, attempt: number, ms: number }) => void
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
}

export interface AtlasResponse<T> {
  status: number
  body: T
}

interface AtlasEnvelope {
  error?: number
  errorCode?: string
  detail?: string | null
  reason?: string | null
}

/** errorCode → port error class. Anything else is classified by HTTP status. */
const BY_CODE: Record<string, new (message: string, details: AtlasErrorDetails) => AtlasError> = {
  CLUSTER_NOT_FOUND: ClusterNotFoundError,
  USERNAME_NOT_FOUND: DatabaseUserNotFoundError,
  USER_NOT_FOUND: DatabaseUserNotFoundError,
  USER_ALREADY_EXISTS: DatabaseUserExistsError,
  DUPLICATE_CLUSTER_NAME: DuplicateClusterNameError,
  CANNOT_TERMINATE_CLUSTER_WHEN_TERMINATION_PROTECTION_ENABLED: TerminationProtectedError,
  GROUP_NOT_FOUND: ProjectNotFoundError,
  RATE_LIMITED: AtlasRateLimitedError,
  RATE_LIMITED_TOKEN_BUCKET: AtlasRateLimitedError
}

export function toAtlasError (status: number, envelope: AtlasEnvelope | undefined, secrets: string[] = []): AtlasError {
  const code = envelope?.errorCode
  let detail = envelope?.detail ?? envelope?.reason ?? `HTTP ${status}`
  for (const secret of secrets) if (secret !== '') detail = detail.split(secret).join('[redacted]')
  const details: AtlasErrorDetails = { status, ...(code === undefined ? {} : { errorCode: code }) }
  const message = code === undefined ? detail : `${detail} (${code})`
  const ByCode = code === undefined ? undefined : BY_CODE[code]
  if (ByCode !== undefined) return new ByCode(message, details)
  if (status === 401 || status === 403) return new AtlasAuthError(message, details)
  if (status === 429) return new AtlasRateLimitedError(message, details)
  if (status >= 500) return new AtlasUnavailableError(message, details)
  return new AtlasRequestError(message, details)
}

/** Digest state shared by all calls: the last nonce and its counter, so a warm client needs one round trip. */
class DigestAuth {
  private nonce: string | undefined
  private opaque: string | undefined
  private nc = 0
  private readonly publicKey: string
  private readonly privateKey: string

  constructor (publicKey: string, privateKey: string) {
    this.publicKey = publicKey
    this.privateKey = privateKey
  }

  /** An Authorization header for the request, or undefined before the first challenge. */
  header (method: string, uri: string): string | undefined {
    if (this.nonce === undefined) return undefined
    this.nc++
    const nc = this.nc.toString(16).padStart(8, '0')
    const cnonce = newCnonce()
    const response = digestResponse({
      username: this.publicKey, password: this.privateKey, realm: ATLAS_REALM, method, uri, nonce: this.nonce, nc, cnonce, qop: 'auth'
    })
    return formatAuthorization({
      username: this.publicKey, realm: ATLAS_REALM, nonce: this.nonce, uri, cnonce, nc, qop: 'auth', response, algorithm: 'MD5',
      ...(this.opaque === undefined ? {} : { opaque: this.opaque })
    })
  }

  /** Takes a challenge's nonce (a stale one, or one the server no longer knows, is simply replaced). */
  challenge (wwwAuthenticate: string | undefined): boolean {
    const p = parseDigestParams(wwwAuthenticate)
    if (p?.nonce === undefined) return false
    if (this.nonce !== p.nonce) {
      this.nonce = p.nonce
      this.nc = 0
    }
    this.opaque = p.opaque
    return true
  }
}

/** Service-account tokens, cached and refreshed a minute before they expire; one refresh at a time. */
class ServiceAccountAuth {
  private token: { value: string, expiresAt: number } | undefined
  private pending: Promise<string> | undefined
  private readonly clientId: string
  private readonly clientSecret: string
  private readonly fetchToken: (basic: string) => Promise<{ access_token: string, expires_in: number }>

  constructor (clientId: string, clientSecret: string, fetchToken: (basic: string) => Promise<{ access_token: string, expires_in: number }>) {
    this.clientId = clientId
    this.clientSecret = clientSecret
    this.fetchToken = fetchToken
  }

  async header (): Promise<string> {
    if (this.token !== undefined && this.token.expiresAt - 60_000 > Date.now()) return `Bearer ${this.token.value}`
    this.pending ??= (async () => {
      try {
        const basic = Buffer.from(`${encodeURIComponent(this.clientId)}:${encodeURIComponent(this.clientSecret)}`).toString('base64')
        const answer = await this.fetchToken(basic)
        this.token = { value: answer.access_token, expiresAt: Date.now() + answer.expires_in * 1000 }
        return answer.access_token
      } finally {
        this.pending = undefined
      }
    })()
    return `Bearer ${await this.pending}`
  }

  invalidate (): void {
    this.token = undefined
  }
}

function sleep (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}

function retryAfterMs (value: string | string[] | undefined): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value
  if (raw === undefined) return undefined
  const seconds = Number(raw)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const at = Date.parse(raw)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}

export class AtlasHttpClient {
  private readonly base: URL
  private readonly dispatcher: Dispatcher
  private readonly ownsDispatcher: boolean
  private readonly digest: DigestAuth | undefined
  private readonly oauth: ServiceAccountAuth | undefined
  private readonly options: Required<Pick<AtlasHttpOptions, 'requestTimeoutMs' | 'maxRetries' | 'backoffBaseMs' | 'backoffMaxMs' | 'defaultBudgetMs'>>
  private readonly onExchange: AtlasHttpOptions['onExchange']

  constructor (options: AtlasHttpOptions) {
    this.base = new URL(options.baseUrl)
    this.ownsDispatcher = options.dispatcher === undefined
    this.dispatcher = options.dispatcher ?? new Agent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000, connections: 32 })
    this.options = {
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      maxRetries: options.maxRetries ?? 4,
      backoffBaseMs: options.backoffBaseMs ?? 250,
      backoffMaxMs: options.backoffMaxMs ?? 8_000,
      defaultBudgetMs: options.defaultBudgetMs ?? 45_000
    }
    this.onExchange = options.onExchange
    const creds = options.credentials
    if (creds.kind === 'digest') {
      this.digest = new DigestAuth(creds.publicKey, creds.privateKey)
    } else {
      this.oauth = new ServiceAccountAuth(creds.clientId, creds.clientSecret, basic => this.fetchToken(basic))
    }
  }

  async close (): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close()
  }

  /** Sends one Atlas API call, retrying what may be retried, and returns the parsed body. */
  async send<T> (req: AtlasRequest): Promise<AtlasResponse<T>> {
    const deadline = req.deadline ?? Date.now() + this.options.defaultBudgetMs
    const pathAndQuery = `/api/atlas/v2${req.path}`
    const mediaType = `application/vnd.atlas.${req.version}+json`
    const payload = req.body === undefined ? undefined : JSON.stringify(req.body)
    let challengesAnswered = 0
    let tokenRefreshed = false
    let lastError: AtlasError | undefined
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - Date.now()
      if (remaining <= 0) throw lastError ?? new AtlasUnavailableError(`no time left for ${req.method} ${req.path}`)
      const headers: Record<string, string> = { accept: mediaType, 'user-agent': 'atlas-broker' }
      if (payload !== undefined) headers['content-type'] = mediaType
      const authorization = this.digest !== undefined ? this.digest.header(req.method, pathAndQuery) : await this.oauth!.header()
      if (authorization !== undefined) headers.authorization = authorization

      const started = Date.now()
      let status: number | undefined
      let retryable = false
      let waitHint: number | undefined
      try {
        const response = await request(new URL(pathAndQuery, this.base), {
          method: req.method,
          headers,
          ...(payload === undefined ? {} : { body: payload }),
          dispatcher: this.dispatcher,
          signal: AbortSignal.timeout(Math.min(this.options.requestTimeoutMs, remaining))
        })
        status = response.statusCode
        const text = await response.body.text()
        this.onExchange?.({ method: req.method, path: req.path, status, attempt, ms: Date.now() - started })
        if (status >= 200 && status < 300) {
          return { status, body: (text === '' ? undefined : JSON.parse(text)) as T }
        }
        let envelope: AtlasEnvelope | undefined
        try { envelope = JSON.parse(text) as AtlasEnvelope } catch { envelope = undefined }

        if (status === 401) {
          // A challenge: the first call, a stale nonce, or a nonce the server forgot. Answer it, at most
          // twice per call, so wrong keys fail fast. Bearer tokens get one refresh.
          if (this.digest !== undefined && challengesAnswered < 2 && this.digest.challenge(headerValue(response.headers['www-authenticate']))) {
            challengesAnswered++
            attempt--
            continue
          }
          if (this.oauth !== undefined && !tokenRefreshed) {
            tokenRefreshed = true
            this.oauth.invalidate()
            attempt--
            continue
          }
          throw toAtlasError(status, envelope ?? { detail: 'Atlas refused the credentials' }, req.secrets)
        }
        lastError = toAtlasError(status, envelope, req.secrets)
        retryable = status === 429 || ((status >= 500 || status === 408) && req.idempotent) || status === 503
        waitHint = retryAfterMs(response.headers['retry-after'])
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
      }
      if (attempt >= this.options.maxRetries) throw lastError ?? new AtlasUnavailableError(`${req.method} ${req.path} failed`)
      const backoff = Math.random() * Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** attempt)
      const wait = Math.max(backoff, waitHint ?? 0)
      if (Date.now() + wait >= deadline) throw lastError ?? new AtlasUnavailableError(`${req.method} ${req.path} failed`)
      await sleep(wait)
    }
  }

  private async fetchToken (basic: string): Promise<{ access_token: string, expires_in: number }> {
    const response = await request(new URL('/api/oauth/token', this.base), {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: 'grant_type=client_credentials',
      dispatcher: this.dispatcher,
      signal: AbortSignal.timeout(this.options.requestTimeoutMs)
    }).catch((err: unknown) => {
      throw new AtlasUnavailableError(`service account token request failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    })
    const text = await response.body.text()
    if (response.statusCode !== 200) {
      let envelope: AtlasEnvelope | undefined
      try { envelope = JSON.parse(text) as AtlasEnvelope } catch { envelope = undefined }
      if (response.statusCode >= 500) throw toAtlasError(response.statusCode, envelope)
      throw new AtlasAuthError(`Atlas refused the service account credentials (${envelope?.errorCode ?? response.statusCode})`, { status: response.statusCode })
    }
    const parsed = JSON.parse(text) as { access_token?: unknown, expires_in?: unknown }
    if (typeof parsed.access_token !== 'string') throw new AtlasAuthError('the token response has no access_token')
    return { access_token: parsed.access_token, expires_in: typeof parsed.expires_in === 'number' ? parsed.expires_in : 3600 }
  }
}

function headerValue (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

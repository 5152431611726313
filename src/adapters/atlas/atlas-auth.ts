/**
 * How the Atlas client authenticates, as Atlas and MongoDB's own clients do it.
 *
 * Digest: realm, algorithm (MD5, SHA-256) and qop come from each challenge. Reusing a nonce (one round trip
 * per call once warm) is an optimisation, not an assumption: MongoDB's transport never reuses one and Atlas's
 * policy is not documented, so the first time a reused nonce is refused while a fresh one is accepted, the
 * client stops reusing and answers a fresh challenge per request from then on (`onReuseRefused`, once).
 * Every request answers its own challenge with its own nonce, so concurrent calls never race on a counter.
 *
 * Service accounts: a bearer token from `/api/oauth/token`, cached until a minute before it expires, one
 * fetch at a time. A 401 refreshes a token at most once (`rejected` only drops the token that was refused),
 * so a burst of 401s costs one token request; the token endpoint's own 429s are waited out, never taken for
 * bad credentials. The token is revoked on close.
 */
import { type DigestAlgorithm, challengeAlgorithm, challengeQop, digestResponse, formatAuthorization, newCnonce, parseDigestParams } from './digest.js'

interface Challenge {
  realm: string
  nonce: string
  opaque?: string
  algorithm: DigestAlgorithm
  qop: 'auth' | ''
}

export type ChallengeAnswer = { header: string } | { unsupported: string }

export class DigestAuth {
  private shared: { challenge: Challenge, nc: number } | undefined
  private reuse = true
  private readonly publicKey: string
  private readonly privateKey: string
  private readonly onReuseRefused: () => void

  constructor (publicKey: string, privateKey: string, onReuseRefused: () => void = () => {}) {
    this.publicKey = publicKey
    this.privateKey = privateKey
    this.onReuseRefused = onReuseRefused
  }

  get reusesNonces (): boolean {
    return this.reuse
  }

  /** The Authorization of a call's first attempt: the shared nonce while reuse is on, else none (a challenge comes). */
  first (method: string, uri: string): string | undefined {
    if (!this.reuse || this.shared === undefined) return undefined
    this.shared.nc++
    return this.authorization(this.shared.challenge, this.shared.nc, method, uri)
  }

  /** Answers a challenge for this request alone (nc 1); while reuse is on, later calls share its nonce. */
  answer (wwwAuthenticate: string | undefined, method: string, uri: string): ChallengeAnswer | undefined {
    const p = parseDigestParams(wwwAuthenticate)
    if (p?.nonce === undefined) return undefined
    const algorithm = challengeAlgorithm(p.algorithm)
    const qop = challengeQop(p.qop)
    if (algorithm === undefined) return { unsupported: `algorithm ${p.algorithm ?? ''}` }
    if (qop === undefined) return { unsupported: `qop ${p.qop ?? ''}` }
    const challenge: Challenge = { realm: p.realm ?? '', nonce: p.nonce, algorithm, qop, ...(p.opaque === undefined ? {} : { opaque: p.opaque }) }
    if (this.reuse) this.shared = { challenge, nc: 1 }
    return { header: this.authorization(challenge, 1, method, uri) }
  }

  /** A call whose reused nonce was refused (not as stale) succeeded with a fresh one: stop reusing nonces. */
  reuseRefused (): void {
    if (!this.reuse) return
    this.reuse = false
    this.shared = undefined
    this.onReuseRefused()
  }

  private authorization (c: Challenge, count: number, method: string, uri: string): string {
    const nc = count.toString(16).padStart(8, '0')
    const cnonce = newCnonce()
    const response = digestResponse({ username: this.publicKey, password: this.privateKey, realm: c.realm, method, uri, nonce: c.nonce, nc, cnonce, qop: c.qop, algorithm: c.algorithm })
    return formatAuthorization({ username: this.publicKey, realm: c.realm, nonce: c.nonce, uri, cnonce, nc, qop: c.qop, response, algorithm: c.algorithm, ...(c.opaque === undefined ? {} : { opaque: c.opaque }) })
  }
}

export interface Token {
  value: string
  expiresAt: number
}

export interface TokenEndpoint {
  /** POST /api/oauth/token with the client's Basic credentials; retries within `deadline`; throws port errors. */
  fetch: (basic: string, deadline: number) => Promise<{ access_token: string, expires_in: number }>
  /** POST /api/oauth/revoke; best effort. */
  revoke: (basic: string, token: string) => Promise<void>
}

export class ServiceAccountAuth {
  private token: Token | undefined
  private pending: Promise<Token> | undefined
  private readonly basic: string
  private readonly endpoint: TokenEndpoint

  constructor (clientId: string, clientSecret: string, endpoint: TokenEndpoint) {
    // As MongoDB's SDK does: the id and secret are URL-encoded before Basic encoding (RFC 6749 2.3.1).
    this.basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')
    this.endpoint = endpoint
  }

  /** The current token, fetched when there is none or it expires within a minute. */
  async current (deadline: number): Promise<Token> {
    if (this.token !== undefined && this.token.expiresAt - 60_000 > Date.now()) return this.token
    this.pending ??= (async () => {
      try {
        const answer = await this.endpoint.fetch(this.basic, deadline)
        this.token = { value: answer.access_token, expiresAt: Date.now() + answer.expires_in * 1000 }
        return this.token
      } finally {
        this.pending = undefined
      }
    })()
    return await this.pending
  }

  /** Atlas refused `used`: it is dropped unless it was already replaced, so each token is refreshed once. */
  rejected (used: Token): void {
    if (this.token === used) this.token = undefined
  }

  async revoke (): Promise<void> {
    const token = this.token
    this.token = undefined
    if (token === undefined || token.expiresAt <= Date.now()) return
    await this.endpoint.revoke(this.basic, token.value).catch(() => undefined)
  }
}

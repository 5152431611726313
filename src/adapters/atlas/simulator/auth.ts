/**
 * Who may call the simulator, as Atlas decides it: Digest with Atlas's exact challenge (nonces valid for a
 * while, or single-use in strict mode), service-account bearer tokens from `/api/oauth/token` (limited to 50
 * requests a minute per client, as Atlas documents; revocable), the API key's access list (403
 * IP_ADDRESS_NOT_ON_ACCESS_LIST) and its project roles (a missing role is 401 USER_UNAUTHORIZED).
 */
import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { BlockList, isIPv6 } from 'node:net'
import { ATLAS_REALM, type DigestAlgorithm, challengeAlgorithm, digestResponse, newNonce, parseDigestParams } from '../digest.js'
import { HttpFailure } from './http.js'
import { UNVERIFIED } from './unverified.js'

/** Project roles (Atlas's names). GROUP_OWNER and ORG_OWNER may do everything. */
export type SimRole = 'GROUP_OWNER' | 'GROUP_CLUSTER_MANAGER' | 'GROUP_DATABASE_ACCESS_ADMIN' | 'GROUP_READ_ONLY' | 'ORG_OWNER'

/** What an operation needs: read (any project role), clusters, cluster deletion, database users. */
export type Permission = 'read' | 'clusters' | 'owner' | 'users' | 'org'

const GRANTS: Record<SimRole, Permission[]> = {
  ORG_OWNER: ['read', 'clusters', 'owner', 'users', 'org'],
  GROUP_OWNER: ['read', 'clusters', 'owner', 'users'],
  GROUP_CLUSTER_MANAGER: ['read', 'clusters'],
  GROUP_DATABASE_ACCESS_ADMIN: ['read', 'users'],
  GROUP_READ_ONLY: ['read']
}

/** The caller name of the configured key and service account. */
export const PRIMARY = 'primary'

export interface AuthOptions {
  publicKey: string
  privateKey: string
  clientId: string
  clientSecret: string
  nonceTtlMs: number
  tokenTtlSeconds: number
  /** Nonces answer one request each (no client may reuse one). */
  strictNonces: boolean
  /** The challenge's algorithm (Atlas: MD5). */
  algorithm: DigestAlgorithm
  /** The credentials' roles in the project. */
  roles: SimRole[]
  /** The project the configured key (and service account) belongs to: its project roles apply there only. */
  projectId: string
  /** The API key's access list (addresses or CIDRs); undefined: every address. */
  accessList: string[] | undefined
  /** Token requests a client may make per minute (Atlas: 50). */
  tokenRequestsPerMinute: number
  /** The window of that limit (Atlas: 60 s). */
  tokenWindowMs: number
}

/**
 * The counters seen with one nonce. A counter seen before is a replay. Counters may arrive a little out of
 * order (concurrent requests), so the last WINDOW below the highest are remembered and older ones refused:
 * memory per nonce stays bounded however long a client keeps reusing it.
 */
class NonceUse {
  static readonly WINDOW = 256
  readonly issued = Date.now()
  private highest = 0
  private readonly recent = new Set<number>()

  get used (): boolean { return this.highest > 0 }

  accept (nc: string, strict: boolean): boolean {
    const n = Number.parseInt(nc, 16)
    if (!Number.isSafeInteger(n) || n <= 0 || (strict && this.used)) return false
    if (this.recent.has(n) || n <= this.highest - NonceUse.WINDOW) return false
    this.recent.add(n)
    if (n > this.highest) {
      this.highest = n
      for (const old of this.recent) if (old <= n - NonceUse.WINDOW) this.recent.delete(old)
    }
    return true
  }
}

export class SimAuth {
  readonly options: AuthOptions
  private readonly nonces = new Map<string, NonceUse>()
  private readonly tokens = new Map<string, number>()
  private readonly tokenRequests = new Map<string, number[]>()
  private allowed: BlockList | undefined
  readonly stats = { challenges: 0, tokensIssued: 0, tokensRevoked: 0, reusedNonces: 0 }
  /** Further API keys, each with its roles per project (project keys, as Atlas scopes them). */
  private readonly keys = new Map<string, { privateKey: string, grants: Map<string, SimRole[]> }>()
  /**
   * Who is being served and in which project: set right before a request is routed. Routing is synchronous,
   * so no other request can change it while one is being answered.
   */
  private current: { caller: string, projectId: string | undefined } = { caller: PRIMARY, projectId: undefined }

  constructor (options: AuthOptions) {
    this.options = options
    this.setAccessList(options.accessList)
  }

  setAccessList (entries: string[] | undefined): void {
    this.options.accessList = entries
    if (entries === undefined) { this.allowed = undefined; return }
    const list = new BlockList()
    for (const entry of entries) {
      const [address = '', bits] = entry.split('/')
      const type = isIPv6(address) ? 'ipv6' : 'ipv4'
      if (bits === undefined) list.addAddress(address, type)
      else list.addSubnet(address, Number(bits), type)
    }
    this.allowed = list
  }

  /** Adds an API key with roles in the projects given (by id). */
  addApiKey (publicKey: string, privateKey: string, grants: Record<string, SimRole[]>): void {
    this.keys.set(publicKey, { privateKey, grants: new Map(Object.entries(grants)) })
  }

  /** The authenticated caller of a request: the configured key or service account (PRIMARY), or another key's public key. */
  callerOf (req: IncomingMessage): string {
    const header = req.headers.authorization ?? ''
    if (/^Bearer\s+/i.test(header)) return PRIMARY
    const username = parseDigestParams(header)?.username
    return username === undefined || username === this.options.publicKey || !this.keys.has(username) ? PRIMARY : username
  }

  /** Called right before a request is routed: whose roles in which project `requirePermission` checks. */
  serve (caller: string, projectId: string | undefined): void {
    this.current = { caller, projectId }
  }

  /** The caller's roles where it is being served: organisation roles everywhere, project roles in their project. */
  private rolesNow (): SimRole[] {
    const { caller, projectId } = this.current
    if (caller === PRIMARY) {
      const { roles } = this.options
      return projectId === undefined || projectId === this.options.projectId ? roles : roles.filter(r => r.startsWith('ORG_'))
    }
    // Grants under '*' are organisation roles: they apply in every project, and to organisation calls.
    const grants = this.keys.get(caller)?.grants
    return [...(grants?.get('*') ?? []), ...(projectId === undefined ? [] : grants?.get(projectId) ?? [])]
  }

  /** Another key's public key and its roles per project (undefined for the configured key). */
  keyOf (caller: string): { publicKey: string, roles: Array<{ groupId: string, roleName: SimRole }> } | undefined {
    const key = this.keys.get(caller)
    if (key === undefined) return undefined
    return { publicKey: caller, roles: [...key.grants].flatMap(([groupId, roles]) => roles.map(roleName => ({ groupId, roleName }))) }
  }

  /** Whether the caller has any role in the project (what `GET /groups` lists). */
  canSee (caller: string, projectId: string): boolean {
    const saved = this.current
    this.current = { caller, projectId }
    const visible = this.rolesNow().length > 0
    this.current = saved
    return visible
  }

  /** Returns a WWW-Authenticate challenge when the request is not authenticated. */
  authenticate (req: IncomingMessage, url: URL): string | undefined {
    const header = req.headers.authorization
    if (header !== undefined && /^Bearer\s+/i.test(header)) {
      const expires = this.tokens.get(header.replace(/^Bearer\s+/i, '').trim())
      if (expires !== undefined && expires > Date.now()) return undefined
      return this.challenge(false)
    }
    const p = parseDigestParams(header)
    if (p === undefined) return this.challenge(false)
    const nonce = this.nonces.get(p.nonce ?? '')
    if (nonce === undefined) return this.challenge(false)
    const algorithm = challengeAlgorithm(p.algorithm)
    if (algorithm !== this.options.algorithm) return this.challenge(false)
    const secret = p.username === this.options.publicKey ? this.options.privateKey : this.keys.get(p.username ?? '')?.privateKey
    if (secret === undefined) return this.challenge(false)
    const expected = digestResponse({
      username: p.username ?? '', password: secret, realm: ATLAS_REALM, method: req.method ?? 'GET',
      uri: p.uri ?? '', nonce: p.nonce ?? '', nc: p.nc ?? '', cnonce: p.cnonce ?? '', qop: p.qop ?? '', algorithm
    })
    const valid = p.realm === ATLAS_REALM && p.qop === 'auth' &&
      p.uri === `${url.pathname}${url.search}` && p.response === expected
    if (!valid) return this.challenge(false)
    if (Date.now() - nonce.issued >= this.options.nonceTtlMs) return this.challenge(true)
    // A nonce counter seen before is a replay; in strict mode any second use of a nonce is refused.
    if (!nonce.accept(p.nc ?? '', this.options.strictNonces)) {
      this.stats.reusedNonces++
      return this.challenge(false)
    }
    return undefined
  }

  /** 403 when the caller's address is not on the API key's access list (service accounts have one too). */
  checkAccessList (req: IncomingMessage): void {
    if (this.allowed === undefined) return
    const address = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '')
    if (this.allowed.check(address, isIPv6(address) ? 'ipv6' : 'ipv4')) return
    throw new HttpFailure(403, 'IP_ADDRESS_NOT_ON_ACCESS_LIST', `IP address ${address} is not allowed to access this resource.`, [address])
  }

  /** 401 USER_UNAUTHORIZED when the credentials' roles do not grant `permission`. */
  requirePermission (permission: Permission): void {
    if (this.rolesNow().some(role => GRANTS[role].includes(permission))) return
    throw new HttpFailure(UNVERIFIED.missingRole.status, UNVERIFIED.missingRole.code, 'Current user is not authorized to perform this action.', [])
  }

  private challenge (stale: boolean): string {
    this.stats.challenges++
    const nonce = newNonce()
    this.nonces.set(nonce, new NonceUse())
    if (this.nonces.size > 10_000) {
      const cutoff = Date.now() - 2 * this.options.nonceTtlMs
      for (const [key, value] of this.nonces) if (value.issued < cutoff || value.used) this.nonces.delete(key)
    }
    return `Digest realm="${ATLAS_REALM}", domain="", nonce="${nonce}", algorithm=${this.options.algorithm}, qop="auth", stale=${String(stale)}`
  }

  /** POST /api/oauth/token (client credentials in Basic auth). */
  issueToken (req: IncomingMessage, raw: string): Record<string, unknown> {
    const id = this.clientOf(req)
    this.limitTokenRequests(`${id?.id ?? ''} ${req.socket.remoteAddress ?? ''}`)
    const form = new URLSearchParams(raw)
    if (form.get('grant_type') !== 'client_credentials') throw new OAuthFailure(400, 'unsupported_grant_type')
    if (id?.id !== this.options.clientId || id.secret !== this.options.clientSecret) {
      throw new OAuthFailure(UNVERIFIED.oauthInvalidClient.status, UNVERIFIED.oauthInvalidClient.code)
    }
    const token = randomBytes(32).toString('base64url')
    this.stats.tokensIssued++
    this.tokens.set(token, Date.now() + this.options.tokenTtlSeconds * 1000)
    return { access_token: token, token_type: 'Bearer', expires_in: this.options.tokenTtlSeconds }
  }

  /** POST /api/oauth/revoke (`token=...`, client credentials in Basic auth). */
  revokeToken (req: IncomingMessage, raw: string): void {
    const id = this.clientOf(req)
    if (id?.id !== this.options.clientId || id.secret !== this.options.clientSecret) throw new OAuthFailure(401, 'invalid_client')
    const token = new URLSearchParams(raw).get('token') ?? ''
    if (this.tokens.delete(token)) this.stats.tokensRevoked++
  }

  /** Makes every issued token invalid at once (as if they expired). */
  expireTokens (): void {
    this.tokens.clear()
  }

  private clientOf (req: IncomingMessage): { id: string, secret: string } | undefined {
    const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '')
    if (basic?.[1] === undefined) return undefined
    const [id = '', secret = ''] = Buffer.from(basic[1], 'base64').toString('utf8').split(':').map(part => decodeURIComponent(part))
    return { id, secret }
  }

  private limitTokenRequests (key: string): void {
    const now = Date.now()
    const window = this.options.tokenWindowMs
    const recent = (this.tokenRequests.get(key) ?? []).filter(at => now - at < window)
    if (recent.length >= this.options.tokenRequestsPerMinute) {
      const seconds = Math.max(1, Math.ceil((recent[0]! + window - now) / 1000))
      this.tokenRequests.set(key, recent)
      throw new HttpFailure(429, 'RATE_LIMITED', `Resource /api/oauth/token is limited to ${this.options.tokenRequestsPerMinute} requests every 1 minutes.`,
        ['/api/oauth/token', this.options.tokenRequestsPerMinute, 1], { 'Retry-After': String(seconds) })
    }
    recent.push(now)
    this.tokenRequests.set(key, recent)
  }
}

/** An OAuth error answer (RFC 6749: `{"error": "..."}`), not Atlas's envelope. */
export class OAuthFailure extends Error {
  readonly status: number
  readonly error: string
  constructor (status: number, error: string) {
    super(error)
    this.status = status
    this.error = error
  }
}

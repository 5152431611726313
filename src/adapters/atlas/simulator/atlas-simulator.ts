/**
 * An Atlas Administration API v2 simulator: the subset the broker uses (projects, dedicated and flex
 * clusters, cluster status, database users, OAuth token), served over HTTP on loopback, behaving like the
 * real service as recorded in ../shared/specs/atlas/ATLAS-API-SUBSET.md:
 *   - Digest auth with Atlas's exact challenge (and stale nonces), service-account bearer tokens;
 *   - versioned media types per operation (unknown versions rejected), deprecated ones flagged;
 *   - the error envelope with real error codes and statuses; pagination;
 *   - clusters CREATING → IDLE, UPDATING → IDLE, DELETING → gone; users PENDING → APPLIED per cluster;
 *   - project limits (100 users, 25 clusters), token-bucket rate limiting (429 + Retry-After);
 *   - fault injection (latency, statuses, 429, dropped connections) on chosen routes or at a rate.
 * Used in-process by tests and by local mode, and standalone through `npm run atlas-sim`.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { type AddressInfo } from 'node:net'
import { ATLAS_REALM, digestResponse, newNonce, parseDigestParams } from '../digest.js'

export interface SimulatorDelays {
  /** Dedicated cluster CREATING → IDLE. */
  clusterCreateMs: number
  /** Dedicated cluster UPDATING → IDLE. */
  clusterUpdateMs: number
  /** DELETING → gone (404). */
  clusterDeleteMs: number
  /** Flex cluster CREATING → IDLE. */
  flexCreateMs: number
  /** Database user change PENDING → APPLIED on each cluster. */
  userPropagationMs: number
}

export interface SimulatorOptions {
  projectId?: string
  projectName?: string
  publicKey?: string
  privateKey?: string
  clientId?: string
  clientSecret?: string
  delays?: Partial<SimulatorDelays>
  /** Clusters created IDLE at start (local mode seeds `Cluster0`). */
  seedClusters?: string[]
  maxDatabaseUsers?: number
  maxClusters?: number
  /** Token bucket: capacity and tokens added per second. */
  rateLimit?: { capacity: number, refillPerSecond: number }
  /** How long a digest nonce stays valid before answers with it get `stale=true`. */
  nonceTtlMs?: number
  tokenTtlSeconds?: number
  /** Keep every request and response for contract tests. */
  record?: boolean
}

export interface FaultRule {
  method?: string
  /** Substring or pattern of the request path (query excluded). */
  path?: string | RegExp
  /**
   * `latency`: wait, then handle the request. `slow-answer`: handle it at once, then wait before answering;
   * longer than the client's timeout, the call takes effect but its answer is lost.
   */
  kind: 'latency' | 'slow-answer' | 'status' | 'rate-limit' | 'drop'
  /** For `status`: the HTTP status to answer (default 500). */
  status?: number
  /** For `latency` and `slow-answer`: the extra delay. */
  ms?: number
  /** For `rate-limit`: Retry-After seconds (default 1). */
  retryAfterSeconds?: number
  /** Probability in [0, 1] that a matching request is hit (default 1). */
  rate?: number
  /** How many requests to hit before the rule expires (default: no limit). */
  times?: number
}

export interface Exchange {
  method: string
  path: string
  query: Record<string, string>
  requestHeaders: Record<string, string | string[] | undefined>
  requestBody: unknown
  status: number
  responseHeaders: Record<string, string>
  responseBody: unknown
}

type StateName = 'IDLE' | 'CREATING' | 'UPDATING' | 'DELETING' | 'REPAIRING'

interface SimCluster {
  kind: 'dedicated' | 'flex'
  id: string
  name: string
  createDate: string
  stateName: StateName
  /** When the current transition completes (ms epoch). */
  until?: number
  /** Applied when an UPDATING transition completes. */
  pending?: Record<string, unknown>
  body: Record<string, unknown>
  hostId: string
}

interface SimUser {
  username: string
  databaseName: string
  password: string
  roles: Array<Record<string, unknown>>
  scopes: Array<{ name: string, type: string }>
  labels: Array<{ key: string, value: string }>
  description?: string
}

class HttpFailure extends Error {
  readonly status: number
  readonly errorCode: string
  readonly parameters: unknown[]
  readonly headers: Record<string, string>
  constructor (status: number, errorCode: string, detail: string, parameters: unknown[] = [], headers: Record<string, string> = {}) {
    super(detail)
    this.status = status
    this.errorCode = errorCode
    this.parameters = parameters
    this.headers = headers
  }
}

const REASONS: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found', 406: 'Not Acceptable',
  409: 'Conflict', 410: 'Gone', 415: 'Unsupported Media Type', 429: 'Too Many Requests', 500: 'Internal Server Error',
  502: 'Bad Gateway', 503: 'Service Unavailable'
}

/** Media-type versions per operation: the first is current; the others are deprecated (sunset dates from the spec). */
const VERSIONS = {
  v20230101: { current: ['2023-01-01'], deprecated: {} as Record<string, string> },
  clusterRead: { current: ['2024-08-05'], deprecated: { '2023-02-01': '2027-07-01', '2023-01-01': '2027-07-01' } as Record<string, string> },
  clusterWrite: { current: ['2024-10-23'], deprecated: { '2024-08-05': '2027-03-01', '2023-02-01': '2027-07-01', '2023-01-01': '2027-07-01' } as Record<string, string> },
  clusterDelete: { current: ['2023-02-01'], deprecated: { '2023-01-01': '2027-07-01' } as Record<string, string> },
  flex: { current: ['2024-11-13'], deprecated: {} as Record<string, string> }
} as const

type VersionSet = (typeof VERSIONS)[keyof typeof VERSIONS]
interface Negotiated { version: string, headers: Record<string, string> }
interface Routed extends Negotiated { status: number, body: unknown }

const PAGE = { defaultItems: 100, maxItems: 500 }
const CLUSTER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9-]*$/

function hex (bytes: number): string {
  return randomBytes(bytes).toString('hex')
}

export class AtlasSimulator {
  readonly projectId: string
  readonly projectName: string
  readonly orgId = hex(12)
  readonly publicKey: string
  readonly privateKey: string
  readonly clientId: string
  readonly clientSecret: string
  readonly delays: SimulatorDelays
  readonly exchanges: Exchange[] = []
  maxDatabaseUsers: number
  maxClusters: number
  record: boolean

  private readonly clusters = new Map<string, SimCluster>()
  private readonly users = new Map<string, SimUser>()
  /** cluster name → time until which user changes are PENDING there. */
  private readonly pendingUntil = new Map<string, number>()
  private readonly nonces = new Map<string, { issued: number, used: Set<string> }>()
  private readonly tokens = new Map<string, number>()
  private faults: FaultRule[] = []
  private readonly nonceTtlMs: number
  private readonly tokenTtlSeconds: number
  private rateLimit: { capacity: number, refillPerSecond: number }
  private bucket: { tokens: number, at: number }
  private server: Server | undefined
  /** Requests answered, 401 challenges sent, service-account tokens issued, TCP connections accepted. */
  readonly stats = { requests: 0, challenges: 0, tokensIssued: 0, connections: 0 }

  constructor (options: SimulatorOptions = {}) {
    this.projectId = options.projectId ?? hex(12)
    this.projectName = options.projectName ?? 'atlas-broker-local'
    this.publicKey = options.publicKey ?? `sim${hex(4)}`
    this.privateKey = options.privateKey ?? randomUUID()
    this.clientId = options.clientId ?? `mdb_sa_id_${hex(12)}`
    this.clientSecret = options.clientSecret ?? `mdb_sa_sk_${hex(20)}`
    this.delays = {
      clusterCreateMs: 0, clusterUpdateMs: 0, clusterDeleteMs: 0, flexCreateMs: 0, userPropagationMs: 0, ...options.delays
    }
    this.maxDatabaseUsers = options.maxDatabaseUsers ?? 100
    this.maxClusters = options.maxClusters ?? 25
    this.rateLimit = options.rateLimit ?? { capacity: 10000, refillPerSecond: 10000 }
    this.bucket = { tokens: this.rateLimit.capacity, at: Date.now() }
    this.nonceTtlMs = options.nonceTtlMs ?? 300_000
    this.tokenTtlSeconds = options.tokenTtlSeconds ?? 3600
    this.record = options.record ?? false
    for (const name of options.seedClusters ?? []) this.seedCluster(name)
  }

  // ---------------------------------------------------------------------------------------------
  // Control (in-process)

  async listen (port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => { void this.handle(req, res) })
    server.keepAliveTimeout = 5000
    server.on('connection', () => { this.stats.connections++ })
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => resolve())
    })
    const address = server.address() as AddressInfo
    return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`
  }

  async close (): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
  }

  /** Adds a fault rule; returns a function that removes it. */
  addFault (rule: FaultRule): () => void {
    this.faults.push(rule)
    return () => { this.faults = this.faults.filter(r => r !== rule) }
  }

  clearFaults (): void {
    this.faults = []
  }

  setRateLimit (capacity: number, refillPerSecond: number): void {
    this.rateLimit = { capacity, refillPerSecond }
    this.bucket = { tokens: capacity, at: Date.now() }
  }

  /** An IDLE dedicated M10 cluster, as if created long ago. */
  seedCluster (name: string): void {
    const cluster = this.newCluster('dedicated', name, {
      clusterType: 'REPLICASET',
      replicationSpecs: [{ regionConfigs: [{ providerName: 'AWS', regionName: 'US_EAST_1', priority: 7, electableSpecs: { instanceSize: 'M10', nodeCount: 3 } }] }],
      backupEnabled: false,
      terminationProtectionEnabled: false,
      tags: [],
      mongoDBMajorVersion: '8.0'
    })
    cluster.stateName = 'IDLE'
    this.clusters.set(name, cluster)
  }

  /** Database users as stored (passwords included), for tests. */
  databaseUsers (): SimUser[] {
    return [...this.users.values()].map(u => structuredClone(u))
  }

  clusterNames (): string[] {
    this.tick()
    return [...this.clusters.keys()]
  }

  clusterState (name: string): StateName | undefined {
    this.tick()
    return this.clusters.get(name)?.stateName
  }

  /** The tier a dedicated cluster has now (changes still UPDATING not included); undefined for none. */
  clusterInstanceSize (name: string): string | undefined {
    this.tick()
    const specs = this.clusters.get(name)?.body.replicationSpecs
    const regionConfigs = asObject(Array.isArray(specs) ? specs[0] : undefined).regionConfigs
    const size = asObject(asObject(Array.isArray(regionConfigs) ? regionConfigs[0] : undefined).electableSpecs).instanceSize
    return typeof size === 'string' ? size : undefined
  }

  /** Forces a cluster into a state (e.g. to make it fail or repair). */
  setClusterState (name: string, state: StateName, untilMs?: number): void {
    const cluster = this.clusters.get(name)
    if (cluster === undefined) return
    cluster.stateName = state
    if (untilMs === undefined) delete cluster.until
    else cluster.until = Date.now() + untilMs
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim')
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    const exchange: Exchange = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      requestHeaders: { ...req.headers },
      requestBody: undefined,
      status: 0,
      responseHeaders: {},
      responseBody: undefined
    }
    const send = (status: number, body: unknown, headers: Record<string, string>, text?: string): void => {
      const payload = text ?? (body === undefined ? '' : JSON.stringify(body))
      const all: Record<string, string> = {
        Server: 'mdbws',
        'X-Frame-Options': 'DENY',
        'X-Content-Type-Options': 'nosniff',
        'RateLimit-Limit': String(this.rateLimit.capacity),
        'RateLimit-Remaining': String(Math.max(0, Math.floor(this.bucket.tokens))),
        ...headers
      }
      if (payload !== '' || status !== 204) all['Content-Length'] = String(Buffer.byteLength(payload))
      res.writeHead(status, all)
      res.end(status === 204 ? undefined : payload)
      exchange.status = status
      exchange.responseHeaders = all
      exchange.responseBody = body
      if (this.record) this.exchanges.push(exchange)
    }
    try {
      this.stats.requests++
      if (raw !== '') {
        try {
          exchange.requestBody = url.pathname === '/api/oauth/token' ? raw : JSON.parse(raw)
        } catch {
          throw new HttpFailure(400, 'MALFORMED_REQUEST', 'The request body is not valid JSON.')
        }
      }
      if (url.pathname === '/api/oauth/token' && req.method === 'POST') {
        const token = this.issueToken(req, raw)
        send(200, token, { 'Content-Type': 'application/json' })
        return
      }
      if (!url.pathname.startsWith('/api/atlas/v2')) throw new HttpFailure(404, 'RESOURCE_NOT_FOUND', `Cannot find resource ${url.pathname}.`, [url.pathname])
      const challenge = this.authenticate(req, url)
      if (challenge !== undefined) {
        this.stats.challenges++
        send(401, undefined, { 'Content-Type': 'application/json', 'WWW-Authenticate': challenge }, PRETTY_401)
        return
      }
      const faults = await this.applyFaults(req, res, url)
      if (faults.handled) return
      this.takeToken(url.pathname)
      this.tick()
      const result = this.route(req.method ?? 'GET', url, exchange.requestBody, req)
      if (faults.answerDelayMs > 0) await new Promise(resolve => setTimeout(resolve, faults.answerDelayMs))
      send(result.status, result.body, { 'Content-Type': `application/vnd.atlas.${result.version}+json;charset=utf-8`, ...result.headers })
    } catch (err) {
      const failure = err instanceof HttpFailure ? err : new HttpFailure(500, 'UNEXPECTED_ERROR', 'Unexpected error.')
      send(failure.status, {
        detail: failure.message,
        error: failure.status,
        errorCode: failure.errorCode,
        parameters: failure.parameters,
        reason: REASONS[failure.status] ?? 'Error'
      }, { 'Content-Type': 'application/json', ...failure.headers })
    }
  }

  /** Returns a WWW-Authenticate challenge when the request is not authenticated. */
  private authenticate (req: IncomingMessage, url: URL): string | undefined {
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
    const expected = digestResponse({
      username: p.username ?? '', password: this.privateKey, realm: ATLAS_REALM, method: req.method ?? 'GET',
      uri: p.uri ?? '', nonce: p.nonce ?? '', nc: p.nc ?? '', cnonce: p.cnonce ?? '', qop: p.qop ?? ''
    })
    const fresh = Date.now() - nonce.issued < this.nonceTtlMs
    const valid = p.username === this.publicKey && p.realm === ATLAS_REALM && p.qop === 'auth' &&
      p.uri === `${url.pathname}${url.search}` && p.response === expected && (p.algorithm ?? 'MD5').toUpperCase() === 'MD5'
    if (!valid) return this.challenge(false)
    if (!fresh) return this.challenge(true)
    if (nonce.used.has(p.nc ?? '')) return this.challenge(false)
    nonce.used.add(p.nc ?? '')
    return undefined
  }

  private challenge (stale: boolean): string {
    const nonce = newNonce()
    this.nonces.set(nonce, { issued: Date.now(), used: new Set() })
    if (this.nonces.size > 10_000) {
      const cutoff = Date.now() - 2 * this.nonceTtlMs
      for (const [key, value] of this.nonces) if (value.issued < cutoff) this.nonces.delete(key)
    }
    return `Digest realm="${ATLAS_REALM}", domain="", nonce="${nonce}", algorithm=MD5, qop="auth", stale=${String(stale)}`
  }

  private issueToken (req: IncomingMessage, raw: string): Record<string, unknown> {
    const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '')
    const [id, secret] = basic?.[1] === undefined ? [] : Buffer.from(basic[1], 'base64').toString('utf8').split(':')
    const form = new URLSearchParams(raw)
    if (form.get('grant_type') !== 'client_credentials') throw new HttpFailure(400, 'INVALID_GRANT_TYPE', 'grant_type must be client_credentials.')
    if (id !== this.clientId || secret !== this.clientSecret) throw new HttpFailure(401, 'INVALID_CLIENT', 'Invalid client credentials.')
    const token = randomBytes(32).toString('base64url')
    this.stats.tokensIssued++
    this.tokens.set(token, Date.now() + this.tokenTtlSeconds * 1000)
    return { access_token: token, token_type: 'Bearer', expires_in: this.tokenTtlSeconds }
  }

  /** Applies matching fault rules; `handled` when the request was answered (or dropped) by a fault. */
  private async applyFaults (req: IncomingMessage, res: ServerResponse, url: URL): Promise<{ handled: boolean, answerDelayMs: number }> {
    let answerDelayMs = 0
    for (const rule of [...this.faults]) {
      if (rule.method !== undefined && rule.method.toUpperCase() !== req.method) continue
      if (rule.path !== undefined && !(typeof rule.path === 'string' ? url.pathname.includes(rule.path) : rule.path.test(url.pathname))) continue
      if (rule.rate !== undefined && Math.random() >= rule.rate) continue
      if (rule.times !== undefined) {
        if (rule.times <= 0) continue
        rule.times--
      }
      if (rule.kind === 'latency') {
        await new Promise(resolve => setTimeout(resolve, rule.ms ?? 1000))
        continue
      }
      if (rule.kind === 'slow-answer') {
        answerDelayMs += rule.ms ?? 1000
        continue
      }
      if (rule.kind === 'drop') {
        req.socket.destroy()
        res.destroy()
        return { handled: true, answerDelayMs }
      }
      if (rule.kind === 'rate-limit') {
        const seconds = rule.retryAfterSeconds ?? 1
        throw rateLimited(url.pathname, seconds, this.rateLimit)
      }
      const status = rule.status ?? 500
      throw new HttpFailure(status, status === 503 ? 'SERVICE_UNAVAILABLE' : 'UNEXPECTED_ERROR',
        status === 503 ? 'Service unavailable.' : 'Unexpected error.', [], status === 503 ? { 'Retry-After': '1' } : {})
    }
    return { handled: false, answerDelayMs }
  }

  private takeToken (path: string): void {
    const now = Date.now()
    const { capacity, refillPerSecond } = this.rateLimit
    this.bucket.tokens = Math.min(capacity, this.bucket.tokens + ((now - this.bucket.at) / 1000) * refillPerSecond)
    this.bucket.at = now
    if (this.bucket.tokens < 1) {
      const seconds = Math.max(1, Math.ceil((1 - this.bucket.tokens) / refillPerSecond))
      throw rateLimited(path, seconds, this.rateLimit)
    }
    this.bucket.tokens -= 1
  }

  /** Applies the transitions whose time has come. */
  private tick (): void {
    const now = Date.now()
    for (const [name, c] of this.clusters) {
      if (c.until === undefined || c.until > now) continue
      delete c.until
      if (c.stateName === 'DELETING') {
        this.clusters.delete(name)
        this.pendingUntil.delete(name)
      } else if (c.stateName === 'CREATING' || c.stateName === 'UPDATING' || c.stateName === 'REPAIRING') {
        if (c.pending !== undefined) {
          Object.assign(c.body, c.pending)
          delete c.pending
        }
        c.stateName = 'IDLE'
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Routing

  private route (method: string, url: URL, body: unknown, req: IncomingMessage): Routed {
    const path = url.pathname.replace(/\/+$/, '')
    const segments = path.split('/').slice(4).map(s => decodeURIComponent(s))
    // Negotiated before any work, so an unacceptable version changes nothing; `ok` reuses the result.
    const accept = (set: VersionSet): Negotiated => negotiate(req, set, body !== undefined)
    const ok = (status: number, payload: unknown, negotiated: Negotiated): Routed => ({ status, body: payload, ...negotiated })

    if (segments.length === 0 && method === 'GET') {
      return ok(200, { appName: 'MongoDB Atlas', build: 'simulator', throttling: false, apiKey: { publicKey: this.publicKey, roles: [] }, links: [] }, accept(VERSIONS.v20230101))
    }
    if (segments[0] !== 'groups') throw notFound(url.pathname)
    if (segments.length === 1 && method === 'GET') {
      const v = accept(VERSIONS.v20230101)
      return ok(200, this.page(url, [this.groupView()]), v)
    }
    if (segments[1] === 'byName' && segments.length === 3 && method === 'GET') {
      const v = accept(VERSIONS.v20230101)
      if (segments[2] !== this.projectName) throw new HttpFailure(404, 'GROUP_NAME_NOT_FOUND', `No group with name "${segments[2]}" exists.`, [segments[2]])
      return ok(200, this.groupView(), v)
    }
    const groupId = segments[1] ?? ''
    if (!/^[a-f0-9]{24}$/.test(groupId)) throw new HttpFailure(400, 'INVALID_GROUP_ID', `An invalid group ID ${groupId} was specified.`, [groupId])
    if (groupId !== this.projectId) throw new HttpFailure(404, 'GROUP_NOT_FOUND', `No group with ID ${groupId} exists.`, [groupId])
    const resource = segments[2]
    const rest = segments.slice(3)

    if (resource === undefined && method === 'GET') return ok(200, this.groupView(), accept(VERSIONS.v20230101))

    if (resource === 'clusters') {
      if (rest.length === 0 && method === 'GET') {
        const v = accept(VERSIONS.clusterRead)
        const list = [...this.clusters.values()].filter(c => c.kind === 'dedicated').map(c => this.clusterView(c))
        return ok(200, this.page(url, list), v)
      }
      if (rest.length === 0 && method === 'POST') {
        const v = accept(VERSIONS.clusterWrite)
        return ok(201, this.clusterView(this.createDedicated(body)), v)
      }
      const name = rest[0] ?? ''
      if (rest.length === 2 && rest[1] === 'status' && method === 'GET') {
        const v = accept(VERSIONS.v20230101)
        this.requireCluster(name)
        const pending = (this.pendingUntil.get(name) ?? 0) > Date.now()
        return ok(200, { changeStatus: pending ? 'PENDING' : 'APPLIED', links: [] }, v)
      }
      if (rest.length === 1) {
        const set = method === 'GET' ? VERSIONS.clusterRead : method === 'DELETE' ? VERSIONS.clusterDelete : VERSIONS.clusterWrite
        const v = accept(set)
        const cluster = this.requireCluster(name)
        if (cluster.kind === 'flex') throw new HttpFailure(400, 'CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API', `Flex cluster ${name} cannot be used in the Cluster API.`, [name])
        if (method === 'GET') return ok(200, this.clusterView(cluster), v)
        if (method === 'PATCH') return ok(200, this.clusterView(this.updateDedicated(cluster, body)), v)
        if (method === 'DELETE') { this.deleteCluster(cluster, this.delays.clusterDeleteMs); return ok(202, {}, v) }
      }
    }

    if (resource === 'flexClusters') {
      const v = accept(VERSIONS.flex)
      if (rest.length === 0 && method === 'GET') {
        const list = [...this.clusters.values()].filter(c => c.kind === 'flex').map(c => this.flexView(c))
        return ok(200, this.page(url, list), v)
      }
      if (rest.length === 0 && method === 'POST') return ok(201, this.flexView(this.createFlex(body)), v)
      if (rest.length === 1) {
        const name = rest[0] ?? ''
        const cluster = this.requireCluster(name)
        if (cluster.kind !== 'flex') throw new HttpFailure(400, 'CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API', `Cannot use non-flex cluster ${name} in the flex API.`, [name])
        if (method === 'GET') return ok(200, this.flexView(cluster), v)
        if (method === 'PATCH') return ok(200, this.flexView(this.updateFlex(cluster, body)), v)
        if (method === 'DELETE') { this.deleteCluster(cluster, this.delays.clusterDeleteMs); return ok(204, undefined, v) }
      }
    }

    if (resource === 'databaseUsers') {
      const v = accept(VERSIONS.v20230101)
      if (rest.length === 0 && method === 'GET') return ok(200, this.page(url, [...this.users.values()].map(u => this.userView(u))), v)
      if (rest.length === 0 && method === 'POST') return ok(201, this.userView(this.createUser(body)), v)
      if (rest.length === 2) {
        const [db, username] = rest as [string, string]
        const user = this.users.get(`${db}/${username}`)
        if (user === undefined) {
          throw new HttpFailure(404, 'USERNAME_NOT_FOUND', `No user with username ${username} exists.`, [username])
        }
        if (method === 'GET') return ok(200, this.userView(user), v)
        if (method === 'PATCH') return ok(200, this.userView(this.updateUser(user, body)), v)
        if (method === 'DELETE') {
          this.users.delete(`${db}/${username}`)
          this.markPending(user.scopes)
          return ok(204, undefined, v)
        }
      }
    }
    throw notFound(url.pathname)
  }

  // ---------------------------------------------------------------------------------------------
  // Resources

  private groupView (): Record<string, unknown> {
    return {
      id: this.projectId,
      name: this.projectName,
      orgId: this.orgId,
      clusterCount: this.clusters.size,
      created: '2026-01-01T00:00:00Z',
      tags: [],
      withDefaultAlertsSettings: true,
      links: [{ href: `https://cloud.mongodb.com/api/atlas/v2/groups/${this.projectId}`, rel: 'self' }]
    }
  }

  private page (url: URL, all: unknown[]): Record<string, unknown> {
    const pageNum = intParam(url, 'pageNum', 1, 1, Number.MAX_SAFE_INTEGER)
    const itemsPerPage = intParam(url, 'itemsPerPage', PAGE.defaultItems, 1, PAGE.maxItems)
    const includeCount = url.searchParams.get('includeCount') !== 'false'
    const start = (pageNum - 1) * itemsPerPage
    const results = all.slice(start, start + itemsPerPage)
    const link = (n: number, rel: string): { href: string, rel: string } => ({
      href: `https://cloud.mongodb.com${url.pathname}?includeCount=${String(includeCount)}&pageNum=${n}&itemsPerPage=${itemsPerPage}`, rel
    })
    const links = [link(pageNum, 'self')]
    if (pageNum > 1) links.push(link(pageNum - 1, 'previous'))
    if (start + itemsPerPage < all.length) links.push(link(pageNum + 1, 'next'))
    return { links, results, ...(includeCount ? { totalCount: all.length } : {}) }
  }

  private requireCluster (name: string): SimCluster {
    const cluster = this.clusters.get(name)
    if (cluster === undefined) {
      throw new HttpFailure(404, 'CLUSTER_NOT_FOUND', `No cluster named ${name} exists in group ${this.projectId}.`, [name, this.projectId])
    }
    return cluster
  }

  private newCluster (kind: 'dedicated' | 'flex', name: string, body: Record<string, unknown>): SimCluster {
    return { kind, id: hex(12), name, createDate: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), stateName: 'CREATING', body, hostId: hex(3).slice(0, 5) }
  }

  private checkNewCluster (name: unknown): string {
    if (typeof name !== 'string' || !CLUSTER_NAME.test(name) || name.length > 64) {
      throw new HttpFailure(400, 'INVALID_CLUSTER_NAME', `Cluster name ${String(name)} is invalid.`, [String(name)])
    }
    if (this.clusters.has(name)) throw new HttpFailure(400, 'DUPLICATE_CLUSTER_NAME', `Cluster ${name} already exists.`, [name])
    // [unverified] Atlas's error code for the 25-deployment project limit.
    if (this.clusters.size >= this.maxClusters) {
      throw new HttpFailure(400, 'CLUSTER_LIMIT_EXCEEDED', `Projects are limited to ${this.maxClusters} clusters.`, [this.maxClusters])
    }
    return name
  }

  private createDedicated (body: unknown): SimCluster {
    const b = asObject(body)
    const name = this.checkNewCluster(b.name)
    const specs = Array.isArray(b.replicationSpecs) ? b.replicationSpecs as unknown[] : []
    const regionConfigs = asObject(specs[0]).regionConfigs
    const region = asObject(Array.isArray(regionConfigs) ? regionConfigs[0] : undefined)
    const size = asObject(region.electableSpecs).instanceSize
    if (typeof region.providerName !== 'string' || typeof region.regionName !== 'string' || typeof size !== 'string') {
      throw new HttpFailure(400, 'INVALID_ATTRIBUTE', 'Invalid attribute replicationSpecs specified.', ['replicationSpecs'])
    }
    if (size === 'M0' && region.providerName === 'TENANT') {
      throw new HttpFailure(400, 'CANNOT_CREATE_FREE_CLUSTER_VIA_PUBLIC_API', 'Cannot create a free cluster via the public API.')
    }
    if (!/^(M|R)\d+/.test(size)) throw new HttpFailure(400, 'INVALID_ATTRIBUTE', `Invalid attribute instanceSize ${size} specified.`, ['instanceSize'])
    const cluster = this.newCluster('dedicated', name, {
      clusterType: b.clusterType ?? 'REPLICASET',
      replicationSpecs: b.replicationSpecs,
      backupEnabled: b.backupEnabled ?? false,
      terminationProtectionEnabled: b.terminationProtectionEnabled ?? false,
      tags: b.tags ?? [],
      mongoDBMajorVersion: b.mongoDBMajorVersion ?? '8.0'
    })
    cluster.until = Date.now() + this.delays.clusterCreateMs
    this.clusters.set(name, cluster)
    return cluster
  }

  private updateDedicated (cluster: SimCluster, body: unknown): SimCluster {
    if (cluster.stateName === 'DELETING') throw new HttpFailure(409, 'CLUSTER_ALREADY_REQUESTED_DELETION', `Cluster ${cluster.name} is being deleted.`, [cluster.name])
    const changes = asObject(body)
    for (const key of ['name', 'id', 'stateName', 'connectionStrings', 'createDate', 'groupId']) {
      if (key in changes && key !== 'name') throw new HttpFailure(400, 'INVALID_ATTRIBUTE', `Invalid attribute ${key} specified.`, [key])
    }
    const immediate: Record<string, unknown> = {}
    const later: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(changes)) {
      if (key === 'terminationProtectionEnabled' || key === 'tags') immediate[key] = value
      else if (key !== 'name') later[key] = value
    }
    Object.assign(cluster.body, immediate)
    if (Object.keys(later).length > 0) {
      cluster.pending = { ...cluster.pending, ...later }
      cluster.stateName = 'UPDATING'
      cluster.until = Date.now() + this.delays.clusterUpdateMs
    }
    return cluster
  }

  private createFlex (body: unknown): SimCluster {
    const b = asObject(body)
    const name = this.checkNewCluster(b.name)
    const ps = asObject(b.providerSettings)
    if (!['AWS', 'AZURE', 'GCP'].includes(String(ps.backingProviderName)) || typeof ps.regionName !== 'string') {
      throw new HttpFailure(400, 'INVALID_ATTRIBUTE', 'Invalid attribute providerSettings specified.', ['providerSettings'])
    }
    const cluster = this.newCluster('flex', name, {
      providerSettings: { providerName: 'FLEX', backingProviderName: ps.backingProviderName, regionName: ps.regionName, diskSizeGB: 5.0 },
      terminationProtectionEnabled: b.terminationProtectionEnabled ?? false,
      tags: b.tags ?? []
    })
    cluster.until = Date.now() + this.delays.flexCreateMs
    this.clusters.set(name, cluster)
    return cluster
  }

  private updateFlex (cluster: SimCluster, body: unknown): SimCluster {
    const changes = asObject(body)
    for (const key of Object.keys(changes)) {
      if (key !== 'tags' && key !== 'terminationProtectionEnabled') {
        throw new HttpFailure(400, 'INVALID_ATTRIBUTE', `Invalid attribute ${key} specified.`, [key])
      }
    }
    Object.assign(cluster.body, changes)
    return cluster
  }

  private deleteCluster (cluster: SimCluster, delayMs: number): void {
    if (cluster.body.terminationProtectionEnabled === true) {
      throw new HttpFailure(400, 'CANNOT_TERMINATE_CLUSTER_WHEN_TERMINATION_PROTECTION_ENABLED',
        `Cannot terminate cluster ${cluster.name} because termination protection is enabled.`, [cluster.name])
    }
    if (cluster.stateName === 'DELETING') {
      throw new HttpFailure(400, 'CLUSTER_ALREADY_REQUESTED_DELETION', `Cluster ${cluster.name} has already been requested for deletion.`, [cluster.name])
    }
    cluster.stateName = 'DELETING'
    cluster.until = Date.now() + delayMs
  }

  /** Flex clusters have `standardSrv` from creation (as recorded); dedicated ones have nothing while CREATING. */
  private connectionStrings (c: SimCluster): Record<string, string> {
    const host = c.name.toLowerCase()
    const standardSrv = `mongodb+srv://${host}.${c.hostId}.mongodb.net`
    if (c.stateName === 'CREATING') return c.kind === 'flex' ? { standardSrv } : {}
    const nodes = [0, 1, 2].map(n => `${host}-shard-00-0${n}.${c.hostId}.mongodb.net:27017`).join(',')
    return { standard: `mongodb://${nodes}/?ssl=true&authSource=admin&replicaSet=atlas-${c.hostId}-shard-0`, standardSrv }
  }

  /** Fields both cluster views share. */
  private baseView (c: SimCluster, resource: 'clusters' | 'flexClusters'): Record<string, unknown> {
    return {
      ...c.body,
      id: c.id,
      groupId: this.projectId,
      name: c.name,
      createDate: c.createDate,
      stateName: c.stateName,
      versionReleaseSystem: 'LTS',
      connectionStrings: this.connectionStrings(c),
      links: [{ href: `https://cloud.mongodb.com/api/atlas/v2/groups/${this.projectId}/${resource}/${c.name}`, rel: 'self' }]
    }
  }

  private clusterView (c: SimCluster): Record<string, unknown> {
    return {
      ...this.baseView(c, 'clusters'),
      mongoDBVersion: `${String(c.body.mongoDBMajorVersion ?? '8.0')}.4`,
      paused: false,
      pitEnabled: false,
      effectiveDatabaseEdition: 'CORE'
    }
  }

  private flexView (c: SimCluster): Record<string, unknown> {
    return { ...this.baseView(c, 'flexClusters'), clusterType: 'REPLICASET', mongoDBVersion: '8.0.4', backupSettings: { enabled: true } }
  }

  private createUser (body: unknown): SimUser {
    const b = asObject(body)
    for (const field of ['databaseName', 'groupId', 'roles', 'username']) {
      if (b[field] === undefined) throw new HttpFailure(400, 'MISSING_ATTRIBUTE', `The required attribute ${field} was not specified.`, [field])
    }
    if (b.groupId !== this.projectId) throw new HttpFailure(400, 'INVALID_ATTRIBUTE', 'Invalid attribute groupId specified.', ['groupId'])
    const user = this.checkUser({
      username: String(b.username),
      databaseName: String(b.databaseName),
      password: typeof b.password === 'string' ? b.password : '',
      roles: b.roles as Array<Record<string, unknown>>,
      scopes: (b.scopes ?? []) as Array<{ name: string, type: string }>,
      labels: (b.labels ?? []) as Array<{ key: string, value: string }>,
      ...(typeof b.description === 'string' ? { description: b.description } : {})
    })
    const key = `${user.databaseName}/${user.username}`
    if (this.users.has(key)) {
      throw new HttpFailure(409, 'USER_ALREADY_EXISTS', `The specified user ${user.username} already exists.`, [user.username])
    }
    // [unverified] Atlas's error code for the 100-users-per-project limit.
    if (this.users.size >= this.maxDatabaseUsers) {
      throw new HttpFailure(400, 'DATABASE_USER_LIMIT_EXCEEDED', `Projects are limited to ${this.maxDatabaseUsers} database users.`, [this.maxDatabaseUsers])
    }
    this.users.set(key, user)
    this.markPending(user.scopes)
    return user
  }

  private updateUser (user: SimUser, body: unknown): SimUser {
    const b = asObject(body)
    const next = this.checkUser({
      ...user,
      ...(typeof b.password === 'string' ? { password: b.password } : {}),
      ...(Array.isArray(b.roles) ? { roles: b.roles as Array<Record<string, unknown>> } : {}),
      ...(Array.isArray(b.scopes) ? { scopes: b.scopes as Array<{ name: string, type: string }> } : {}),
      ...(Array.isArray(b.labels) ? { labels: b.labels as Array<{ key: string, value: string }> } : {}),
      ...(typeof b.description === 'string' ? { description: b.description } : {})
    })
    this.users.set(`${user.databaseName}/${user.username}`, next)
    this.markPending([...user.scopes, ...next.scopes])
    return next
  }

  private checkUser (user: SimUser): SimUser {
    if (user.username === '' || user.username.length > 1024) throw new HttpFailure(400, 'INVALID_ATTRIBUTE', 'Invalid attribute username specified.', ['username'])
    if (user.databaseName !== 'admin' && user.databaseName !== '$external') {
      throw new HttpFailure(400, 'INVALID_ATTRIBUTE', 'Invalid attribute databaseName specified.', ['databaseName'])
    }
    if (user.databaseName === 'admin' && user.password.length < 8) {
      throw new HttpFailure(400, 'INVALID_ATTRIBUTE', 'Invalid attribute password specified.', ['password'])
    }
    if (!Array.isArray(user.roles) || user.roles.length === 0 ||
      user.roles.some(r => typeof r.roleName !== 'string' || typeof r.databaseName !== 'string')) {
      throw new HttpFailure(400, 'INVALID_ATTRIBUTE', 'Invalid attribute roles specified.', ['roles'])
    }
    for (const scope of user.scopes) {
      if (scope.type !== 'CLUSTER' && scope.type !== 'DATA_LAKE' && scope.type !== 'STREAM') {
        throw new HttpFailure(400, 'INVALID_ATTRIBUTE', 'Invalid attribute scopes specified.', ['scopes'])
      }
    }
    for (const label of user.labels) {
      if (typeof label.key !== 'string' || typeof label.value !== 'string' || label.key.length > 255 || label.value.length > 255) {
        throw new HttpFailure(400, 'INVALID_ATTRIBUTE', 'Invalid attribute labels specified.', ['labels'])
      }
    }
    return user
  }

  /** A user change reaches each cluster in its scopes (all clusters when unscoped) after the propagation delay. */
  private markPending (scopes: Array<{ name: string }>): void {
    const until = Date.now() + this.delays.userPropagationMs
    const names = scopes.length === 0 ? [...this.clusters.keys()] : scopes.map(s => s.name)
    for (const name of names) this.pendingUntil.set(name, Math.max(this.pendingUntil.get(name) ?? 0, until))
  }

  private userView (u: SimUser): Record<string, unknown> {
    return {
      awsIAMType: 'NONE',
      databaseName: u.databaseName,
      groupId: this.projectId,
      labels: u.labels,
      ldapAuthType: 'NONE',
      links: [{ href: `https://cloud.mongodb.com/api/atlas/v2/groups/${this.projectId}/databaseUsers/${u.databaseName}/${encodeURIComponent(u.username)}`, rel: 'self' }],
      oidcAuthType: 'NONE',
      roles: u.roles,
      scopes: u.scopes,
      username: u.username,
      x509Type: 'NONE',
      ...(u.description === undefined ? {} : { description: u.description })
    }
  }
}

/** The 401 challenge body exactly as Atlas sends it: pretty-printed with " : " separators. */
const PRETTY_401 = '{\n  "error" : 401,\n  "reason" : "Unauthorized",\n  "detail" : "You are not authorized for this resource.",\n  "errorCode" : "UNEXPECTED_ERROR"\n}'

function notFound (path: string): HttpFailure {
  return new HttpFailure(404, 'RESOURCE_NOT_FOUND', `Cannot find resource ${path}.`, [path])
}

function rateLimited (path: string, seconds: number, limit: { capacity: number, refillPerSecond: number }): HttpFailure {
  const endpoint = path.replace(/^\//, '')
  return new HttpFailure(429, 'RATE_LIMITED_TOKEN_BUCKET',
    `Rate limit exceeded for ${endpoint}. Please retry after ${seconds} seconds. Request capacity: ${limit.capacity}. Refill rate: ${limit.refillPerSecond} per 1 seconds.`,
    [endpoint, seconds, limit.capacity, limit.refillPerSecond, 1], { 'Retry-After': String(seconds) })
}

/**
 * Checks `Accept` (and `Content-Type` when there is a body) against the operation's versions. An unknown or
 * missing version is refused with 406 [unverified: Atlas's exact code]; a deprecated one is served with
 * Deprecation/Sunset headers, as recorded.
 */
function negotiate (req: IncomingMessage, set: VersionSet, hasBody: boolean): { version: string, headers: Record<string, string> } {
  const accept = req.headers.accept ?? ''
  const match = /application\/vnd\.atlas\.(\d{4}-\d{2}-\d{2}|preview)\+json/.exec(accept)
  const version = match?.[1]
  const deprecated = (set.deprecated as Record<string, string>)[version ?? '']
  if (version === undefined || (!(set.current as readonly string[]).includes(version) && deprecated === undefined)) {
    throw new HttpFailure(406, 'INVALID_VERSION_DATE', 'Invalid accept header or version date.', [accept])
  }
  if (hasBody) {
    const contentType = req.headers['content-type'] ?? ''
    if (!contentType.startsWith(`application/vnd.atlas.${version}+json`)) {
      throw new HttpFailure(415, 'INVALID_MEDIA_TYPE', `Content-Type must be application/vnd.atlas.${version}+json.`, [contentType])
    }
  }
  const headers: Record<string, string> = {}
  if (deprecated !== undefined) {
    headers.Deprecation = 'Mon, 5 Aug 2024 00:00:00 GMT'
    headers.Sunset = new Date(`${deprecated}T00:00:00Z`).toUTCString()
  }
  return { version, headers }
}

function intParam (url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name)
  if (raw === null) return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HttpFailure(400, 'INVALID_QUERY_PARAMETER', `Invalid query parameter ${name} specified.`, [name])
  }
  return value
}

function asObject (value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : {}
}

/**
 * An Atlas Administration API v2 simulator for the subset the broker uses, served over HTTP on loopback and
 * built from recorded Atlas traffic (test/fixtures/atlas/ names each recording; the answers it had to guess
 * are listed in ./unverified.ts). This module is the server and the control surface; each concern has its own:
 *   auth.ts      Digest (strict single-use nonces optional), service-account tokens, API access list, roles
 *   organisation.ts  the organisation's projects: list, find, create, delete, and routing into each
 *   projects.ts  the API root and one project
 *   access-list.ts  a project's IP access list
 *   clusters.ts  dedicated and flex clusters, full bodies, write validation
 *   replication-specs.ts  dedicated clusters' replicationSpecs: their checks, disks and effective specs
 *   users.ts     database users (SCRAM, AWS IAM, X.509 with certificates, OIDC)
 *   certificates.ts  the X.509 certificates it issues
 *   faults.ts    fault injection and token-bucket rate limiting
 *   state.ts     what the project holds and how it moves on with time
 *   http.ts      the error envelope, media-type versions, pagination
 * Used in-process by tests and by local mode, and standalone through `npm run atlas-sim`.
 */
import { type KeyObject, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { DigestAlgorithm } from '../digest.js'
import { type AuthOptions, OAuthFailure, SimAuth, type SimRole } from './auth.js'
import type { ClusterRoutes } from './clusters.js'
import { type FaultRule, Faults, type RateLimit, TokenBucket } from './faults.js'
import { HttpFailure, type Negotiated, PRETTY_401, type RouteContext, type Routed, type VersionSet, envelope, negotiate, notFound } from './http.js'
import { Organisation } from './organisation.js'
import type { SimProject } from './projects.js'
import { type SimulatorDelays, type SimUser, type SimState, type StateName, hex } from './state.js'
import type { UserRoutes } from './users.js'

export { type FaultRule } from './faults.js'
export { type SimulatorDelays } from './state.js'
export { type SimRole } from './auth.js'

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
  rateLimit?: RateLimit
  /** How long a digest nonce stays valid before answers with it get `stale=true`. */
  nonceTtlMs?: number
  /** Strict mode: every nonce answers one request (a client that reuses nonces is challenged again). */
  strictNonces?: boolean
  /** The digest challenge's algorithm (Atlas: MD5). */
  digestAlgorithm?: DigestAlgorithm
  tokenTtlSeconds?: number
  /** Service-account token requests per client and minute before `429 RATE_LIMITED` (Atlas: 50). */
  tokenRequestsPerMinute?: number
  /** The token limit's window (Atlas: one minute; shorter in tests). */
  tokenWindowMs?: number
  /** The credentials' roles in the project (default: GROUP_OWNER). */
  roles?: SimRole[]
  /** The API key's access list (addresses or CIDRs). Default: every address may call. */
  accessList?: string[]
  /** Keep every request and response for contract tests. */
  record?: boolean
  /** OIDC workload identity providers connected to the project (24-hex ids): OIDC users must name one. */
  oidcIdentityProviders?: string[]
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

/** Where links in answers point, as Atlas's own do. */
const LINK_BASE = 'https://cloud.mongodb.com'

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
  maxClusters: number
  record: boolean
  readonly auth: SimAuth

  private readonly faults = new Faults()
  private readonly bucket: TokenBucket
  /** The organisation and its projects; the first is the configured one, which the control methods address by default. */
  private readonly organisation: Organisation
  private server: Server | undefined
  private readonly counters = { requests: 0, connections: 0, statusChecks: 0 }

  constructor (options: SimulatorOptions = {}) {
    this.projectId = options.projectId ?? hex(12)
    this.projectName = options.projectName ?? 'atlas-broker-local'
    this.publicKey = options.publicKey ?? hex(4)
    this.privateKey = options.privateKey ?? randomUUID()
    this.clientId = options.clientId ?? `mdb_sa_id_${hex(12)}`
    this.clientSecret = options.clientSecret ?? `mdb_sa_sk_${hex(20)}`
    this.delays = { clusterCreateMs: 0, clusterUpdateMs: 0, clusterDeleteMs: 0, flexCreateMs: 0, userPropagationMs: 0, ...options.delays }
    this.maxClusters = options.maxClusters ?? 25
    this.record = options.record ?? false
    this.bucket = new TokenBucket(options.rateLimit ?? { capacity: 10000, refillPerSecond: 10000 })
    const authOptions: AuthOptions = {
      publicKey: this.publicKey,
      privateKey: this.privateKey,
      clientId: this.clientId,
      clientSecret: this.clientSecret,
      nonceTtlMs: options.nonceTtlMs ?? 300_000,
      tokenTtlSeconds: options.tokenTtlSeconds ?? 3600,
      strictNonces: options.strictNonces ?? false,
      algorithm: options.digestAlgorithm ?? 'MD5',
      roles: options.roles ?? ['GROUP_OWNER'],
      projectId: this.projectId,
      accessList: options.accessList,
      tokenRequestsPerMinute: options.tokenRequestsPerMinute ?? 50,
      tokenWindowMs: options.tokenWindowMs ?? 60_000
    }
    this.auth = new SimAuth(authOptions)
    this.organisation = new Organisation(this.orgId, this.auth, this.delays, {
      maxClusters: () => this.maxClusters, maxDatabaseUsers: options.maxDatabaseUsers ?? 100, oidcProviders: options.oidcIdentityProviders ?? []
    }, { projectId: this.projectId, projectName: this.projectName }, LINK_BASE)
    for (const name of options.seedClusters ?? []) this.clusterRoutes.seed(name)
  }

  private get primary (): SimProject { return this.organisation.primary }
  private get tenants (): Map<string, SimProject> { return this.organisation.projects }

  private get state (): SimState { return this.primary.state }
  private get clusterRoutes (): ClusterRoutes { return this.primary.clusters }
  private get users (): UserRoutes { return this.primary.users }

  private tenant (projectId?: string): SimProject {
    return this.organisation.tenant(projectId)
  }

  /**
   * Another project in the organisation, reached with its own API key (a project key: roles there only), as
   * an operator serving several teams has. Returns the project id and the key.
   */
  addProject (options: { projectId?: string, projectName?: string, roles?: SimRole[], seedClusters?: string[] } = {}): { projectId: string, publicKey: string, privateKey: string } {
    const projectId = options.projectId ?? hex(12)
    const project = this.organisation.newProject(projectId, options.projectName ?? `project-${projectId.slice(-6)}`)
    for (const name of options.seedClusters ?? []) project.clusters.seed(name)
    const key = { publicKey: hex(4), privateKey: randomUUID() }
    this.auth.addApiKey(key.publicKey, key.privateKey, { [projectId]: options.roles ?? ['GROUP_OWNER'] })
    return { projectId, ...key }
  }

  // ---------------------------------------------------------------------------------------------
  // Control (in-process)

  /** Requests answered, 401 challenges sent, service-account tokens issued and revoked, TCP connections accepted. */
  get stats (): { requests: number, statusChecks: number, challenges: number, tokensIssued: number, tokensRevoked: number, reusedNonces: number, connections: number } {
    return { ...this.counters, ...this.auth.stats }
  }

  get maxDatabaseUsers (): number { return this.users.maxDatabaseUsers }
  set maxDatabaseUsers (value: number) { this.users.maxDatabaseUsers = value }

  async listen (port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => { void this.handle(req, res) })
    server.keepAliveTimeout = 5000
    server.on('connection', () => { this.counters.connections++ })
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

  /** Puts database users straight into the project (tests and benchmarks that need many). */
  seedDatabaseUsers (users: Array<Pick<SimUser, 'username' | 'labels'>>): void {
    for (const user of users) {
      this.state.users.set(`admin/${user.username}`, { databaseName: 'admin', password: 'seeded-password', roles: [], scopes: [], ...user })
    }
  }

  /** Adds a fault rule; returns a function that removes it. */
  addFault (rule: FaultRule): () => void {
    return this.faults.add(rule)
  }

  clearFaults (): void {
    this.faults.clear()
  }

  setRateLimit (capacity: number, refillPerSecond: number): void {
    this.bucket.reset({ capacity, refillPerSecond })
  }

  /** Replaces the credentials' roles (e.g. to take Project Owner away). */
  setRoles (roles: SimRole[]): void {
    this.auth.options.roles = roles
  }

  /** Replaces the API key's access list; undefined lets every address call. */
  setAccessList (entries: string[] | undefined): void {
    this.auth.setAccessList(entries)
  }

  /** An IDLE dedicated cluster (default M10), as if created long ago; `replicationSpecs` as a create would send them. */
  seedCluster (name: string, replicationSpecs?: unknown[]): void {
    this.clusterRoutes.seed(name, replicationSpecs)
  }

  /** The public key that signs the project's X.509 user certificates. */
  get certificateAuthorityKey (): KeyObject {
    return this.users.certificateAuthorityKey
  }

  /** An organisation API key (Organization Owner): it may create projects and reach every project of the organisation. */
  addOrgKey (): { publicKey: string, privateKey: string } {
    const key = { publicKey: hex(4), privateKey: randomUUID() }
    this.auth.addApiKey(key.publicKey, key.privateKey, { '*': ['ORG_OWNER'] })
    return key
  }

  /** The ids of every project in the organisation (the configured one first). */
  projectIds (): string[] {
    return [...this.tenants.keys()]
  }

  /** A project's IP access list entries with their status now. */
  accessListOf (projectId?: string): Array<{ cidrBlock: string, comment?: string, status: 'PENDING' | 'ACTIVE' }> {
    return [...this.tenant(projectId).accessList.entries.values()].map(e => ({
      cidrBlock: e.cidrBlock, ...(e.comment === undefined ? {} : { comment: e.comment }), status: e.activeAt <= Date.now() ? 'ACTIVE' : 'PENDING'
    }))
  }

  /** Database users as stored (passwords included), for tests; of the configured project unless another is named. */
  databaseUsers (projectId?: string): SimUser[] {
    return [...this.tenant(projectId).state.users.values()].map(u => structuredClone(u))
  }

  clusterNames (projectId?: string): string[] {
    const { state } = this.tenant(projectId)
    state.tick()
    return [...state.clusters.keys()]
  }

  clusterState (name: string): StateName | undefined {
    this.state.tick()
    return this.state.clusters.get(name)?.stateName
  }

  /** A cluster as Atlas's GET would answer it now (2024-08-05 shape), for tests. */
  clusterBody (name: string): Record<string, unknown> | undefined {
    this.state.tick()
    const cluster = this.state.clusters.get(name)
    if (cluster === undefined) return undefined
    return cluster.kind === 'flex' ? this.clusterRoutes.flexView(cluster) : this.clusterRoutes.clusterView(cluster)
  }

  /** The tier a dedicated cluster runs at now (changes still UPDATING not included); undefined for none. */
  clusterInstanceSize (name: string): string | undefined {
    this.state.tick()
    const specs = this.state.clusters.get(name)?.body.replicationSpecs
    const first = Array.isArray(specs) ? specs[0] as { regionConfigs?: Array<{ electableSpecs?: { instanceSize?: unknown } }> } : undefined
    const size = first?.regionConfigs?.[0]?.electableSpecs?.instanceSize
    return typeof size === 'string' ? size : undefined
  }

  /** VPC peering and private endpoints for a dedicated cluster: its answers then carry the private connection strings. */
  setPrivateNetworking (name: string, networking: { peering?: boolean, endpointIds?: string[] }): void {
    this.clusterRoutes.setPrivateNetworking(name, networking)
  }

  /** Forces a cluster into a state (e.g. to make it fail or repair). */
  setClusterState (name: string, state: StateName, untilMs?: number): void {
    const cluster = this.state.clusters.get(name)
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
      method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), requestHeaders: { ...req.headers },
      requestBody: undefined, status: 0, responseHeaders: {}, responseBody: undefined
    }
    const send = (status: number, body: unknown, headers: Record<string, string>, text?: string): void => {
      const payload = text ?? (body === undefined ? '' : JSON.stringify(body))
      const all: Record<string, string> = {
        Server: 'mdbws',
        'X-Frame-Options': 'DENY',
        'X-Content-Type-Options': 'nosniff',
        'RateLimit-Limit': String(this.bucket.limit.capacity),
        'RateLimit-Remaining': String(this.bucket.remaining),
        ...headers
      }
      if (payload !== '' || status !== 204) all['Content-Length'] = String(Buffer.byteLength(payload))
      res.writeHead(status, all)
      res.end(status === 204 ? undefined : payload)
      Object.assign(exchange, { status, responseHeaders: all, responseBody: body })
      if (this.record) this.exchanges.push(exchange)
    }
    try {
      this.counters.requests++
      if (req.method === 'GET' && url.pathname.endsWith('/status')) this.counters.statusChecks++
      const oauth = url.pathname === '/api/oauth/token' || url.pathname === '/api/oauth/revoke'
      if (raw !== '') {
        try {
          exchange.requestBody = oauth ? raw : JSON.parse(raw)
        } catch {
          throw new HttpFailure(400, 'MALFORMED_REQUEST', 'The request body is not valid JSON.')
        }
      }
      if (oauth && req.method === 'POST') {
        this.auth.checkAccessList(req)
        if (url.pathname === '/api/oauth/token') send(200, this.auth.issueToken(req, raw), { 'Content-Type': 'application/json' })
        else { this.auth.revokeToken(req, raw); send(200, undefined, {}) }
        return
      }
      if (!url.pathname.startsWith('/api/atlas/v2')) throw notFound(url.pathname)
      const challenge = this.auth.authenticate(req, url)
      if (challenge !== undefined) {
        send(401, undefined, { 'Content-Type': 'application/json', 'WWW-Authenticate': challenge }, PRETTY_401)
        return
      }
      this.auth.checkAccessList(req)
      const faults = await this.faults.apply(req, res, url, this.bucket.limit)
      if (faults.handled) return
      this.bucket.take(url.pathname)
      for (const project of this.tenants.values()) project.state.tick()
      const result = this.route(req, url, exchange.requestBody)
      if (faults.answerDelayMs > 0) await new Promise(resolve => setTimeout(resolve, faults.answerDelayMs))
      send(result.status, result.body, { 'Content-Type': `application/vnd.atlas.${result.version}+json;charset=utf-8`, ...result.headers }, result.text)
    } catch (err) {
      if (err instanceof OAuthFailure) {
        send(err.status, { error: err.error }, { 'Content-Type': 'application/json' })
        return
      }
      const failure = err instanceof HttpFailure ? err : new HttpFailure(500, 'UNEXPECTED_ERROR', 'Unexpected error.')
      send(failure.status, envelope(failure), { 'Content-Type': 'application/json', ...failure.headers })
    }
  }

  private route (req: IncomingMessage, url: URL, body: unknown): Routed {
    const method = req.method ?? 'GET'
    const segments = url.pathname.replace(/\/+$/, '').split('/').slice(4).map(s => decodeURIComponent(s))
    const context = (rest: string[]): RouteContext => ({
      method, url, body, rest,
      accept: (set: VersionSet): Negotiated => negotiate(req, set, body !== undefined),
      ok: (status: number, payload: unknown, negotiated: Negotiated): Routed => ({ status, body: payload, ...negotiated })
    })
    const caller = this.auth.callerOf(req)
    this.auth.serve(caller, undefined)
    if (segments.length === 0 && method === 'GET') return this.primary.routes.root(context([]), /^Bearer\s/i.test(req.headers.authorization ?? ''), caller)
    if (segments[0] !== 'groups') throw notFound(url.pathname)
    return this.organisation.route(context, segments, caller, url)
  }
}

/**
 * Dedicated clusters (`/clusters`, 2024-08-05 reads, 2024-10-23 writes) and flex clusters (`/flexClusters`,
 * 2024-11-13), answered in the shapes recorded from Atlas: full `replicationSpecs` (ids, zones, electable,
 * read-only and analytics specs with their disks, the read-only `effective*Specs`, auto-scaling), connection
 * strings that appear once a cluster is up, and the errors recorded for the wrong API.
 * Writes are checked as Atlas checks them where we know how (replication-specs.ts for the specs); read-only
 * top-level fields are refused.
 */
import type { SimAuth } from './auth.js'
import { HttpFailure, type RouteContext, type Routed, VERSIONS, asArray, asObject, invalidAttribute, page } from './http.js'
import { normaliseSpecs, PROVIDERS, withEffectiveSpecs } from './replication-specs.js'
import type { SimCluster, SimState } from './state.js'
import { UNVERIFIED } from './unverified.js'

const CLUSTER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9-]*$/
/** Top-level fields Atlas computes: a PATCH may not carry them. */
const READ_ONLY_TOP = ['id', 'groupId', 'createDate', 'connectionStrings', 'stateName', 'mongoDBVersion', 'links', 'featureCompatibilityVersion', 'configServerType']

export interface ProjectInfo {
  projectId: string
  linkBase: string
  /** The project's deployment limit (adjustable by tests). */
  maxClusters: () => number
}


export class ClusterRoutes {
  private readonly state: SimState
  private readonly auth: SimAuth
  private readonly project: ProjectInfo

  constructor (state: SimState, auth: SimAuth, project: ProjectInfo) {
    this.state = state
    this.auth = auth
    this.project = project
  }

  /** `/groups/{id}/clusters...` */
  clusters (ctx: RouteContext): Routed | undefined {
    const { method, rest } = ctx
    if (rest.length === 0 && method === 'GET') {
      const v = ctx.accept(VERSIONS.clusterRead)
      this.auth.requirePermission('read')
      const list = [...this.state.clusters.values()].filter(c => c.kind === 'dedicated').map(c => this.clusterView(c))
      return ctx.ok(200, page(ctx.url, list, this.project.linkBase), v)
    }
    if (rest.length === 0 && method === 'POST') {
      const v = ctx.accept(VERSIONS.clusterWrite)
      this.auth.requirePermission('clusters')
      return ctx.ok(201, this.clusterView(this.createDedicated(ctx.body)), v)
    }
    const name = rest[0] ?? ''
    if (rest.length === 2 && rest[1] === 'status' && method === 'GET') {
      const v = ctx.accept(VERSIONS.v20230101)
      this.auth.requirePermission('read')
      this.requireCluster(name)
      return ctx.ok(200, { changeStatus: this.state.changeStatus(name), links: [] }, v)
    }
    if (rest.length !== 1) return undefined
    const set = method === 'GET' ? VERSIONS.clusterRead : method === 'DELETE' ? VERSIONS.clusterDelete : VERSIONS.clusterWrite
    const v = ctx.accept(set)
    this.auth.requirePermission(method === 'GET' ? 'read' : method === 'DELETE' ? 'owner' : 'clusters')
    const cluster = this.requireCluster(name)
    if (cluster.kind === 'flex') throw new HttpFailure(400, 'CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API', `Flex cluster ${name} cannot be used in the Cluster API.`, [name])
    if (method === 'GET') return ctx.ok(200, this.clusterView(cluster), v)
    if (method === 'PATCH') return ctx.ok(200, this.clusterView(this.updateDedicated(cluster, ctx.body)), v)
    if (method === 'DELETE') { this.deleteCluster(cluster); return ctx.ok(202, {}, v) }
    return undefined
  }

  /** `/groups/{id}/flexClusters...` */
  flexClusters (ctx: RouteContext): Routed | undefined {
    const { method, rest } = ctx
    const v = ctx.accept(VERSIONS.flex)
    this.auth.requirePermission(method === 'GET' ? 'read' : method === 'DELETE' ? 'owner' : 'clusters')
    if (rest.length === 0 && method === 'GET') {
      const list = [...this.state.clusters.values()].filter(c => c.kind === 'flex').map(c => this.flexView(c))
      return ctx.ok(200, page(ctx.url, list, this.project.linkBase), v)
    }
    if (rest.length === 0 && method === 'POST') return ctx.ok(201, this.flexView(this.createFlex(ctx.body)), v)
    if (rest.length !== 1) return undefined
    const name = rest[0] ?? ''
    const cluster = this.requireCluster(name)
    if (cluster.kind !== 'flex') throw new HttpFailure(400, 'CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API', `Cannot use non-flex cluster ${name} in the flex API.`, [name])
    if (method === 'GET') return ctx.ok(200, this.flexView(cluster), v)
    if (method === 'PATCH') return ctx.ok(200, this.flexView(this.updateFlex(cluster, ctx.body)), v)
    if (method === 'DELETE') { this.deleteCluster(cluster); return ctx.ok(204, undefined, v) }
    return undefined
  }

  /** An IDLE dedicated cluster (default: M10 on AWS), as if created long ago; `replicationSpecs` as a create sends them. */
  seed (name: string, replicationSpecs?: unknown[]): void {
    const cluster = this.state.newCluster('dedicated', name, {
      clusterType: 'REPLICASET',
      replicationSpecs: normaliseSpecs(replicationSpecs ?? [{ regionConfigs: [{ providerName: 'AWS', regionName: 'US_EAST_1', priority: 7, electableSpecs: { instanceSize: 'M10', nodeCount: 3 } }] }], []),
      backupEnabled: false,
      terminationProtectionEnabled: false,
      tags: [],
      labels: [],
      mongoDBMajorVersion: '8.0'
    })
    cluster.stateName = 'IDLE'
    this.state.clusters.set(name, cluster)
  }

  requireCluster (name: string): SimCluster {
    const cluster = this.state.clusters.get(name)
    if (cluster === undefined) {
      throw new HttpFailure(404, 'CLUSTER_NOT_FOUND', `No cluster named ${name} exists in group ${this.project.projectId}.`, [name, this.project.projectId])
    }
    return cluster
  }

  private checkNewCluster (name: unknown): string {
    if (typeof name !== 'string' || !CLUSTER_NAME.test(name) || name.length > 64) {
      throw new HttpFailure(400, 'INVALID_CLUSTER_NAME', `Cluster name ${String(name)} is invalid.`, [String(name)])
    }
    if (this.state.clusters.has(name)) throw new HttpFailure(400, 'DUPLICATE_CLUSTER_NAME', `Cluster ${name} already exists.`, [name])
    if (this.state.clusters.size >= this.project.maxClusters()) {
      throw new HttpFailure(UNVERIFIED.clusterLimit.status, UNVERIFIED.clusterLimit.code, `Projects are limited to ${this.project.maxClusters()} clusters.`, [this.project.maxClusters()])
    }
    return name
  }

  private createDedicated (body: unknown): SimCluster {
    const b = asObject(body)
    const name = this.checkNewCluster(b.name)
    const specs = asArray(b.replicationSpecs)
    const first = asObject(asArray(asObject(specs[0]).regionConfigs)[0])
    if (first.providerName === 'TENANT' || String(asObject(first.electableSpecs).instanceSize).startsWith('M0')) {
      throw new HttpFailure(400, 'CANNOT_CREATE_FREE_CLUSTER_VIA_PUBLIC_API', 'Cannot create a free cluster via the public API.')
    }
    for (const spec of specs) for (const key of ['id', 'zoneId']) if (key in asObject(spec)) throw invalidAttribute(key)
    const cluster = this.state.newCluster('dedicated', name, {
      clusterType: b.clusterType ?? 'REPLICASET',
      replicationSpecs: normaliseSpecs(specs, []),
      backupEnabled: b.backupEnabled ?? false,
      terminationProtectionEnabled: b.terminationProtectionEnabled ?? false,
      tags: b.tags ?? [],
      labels: b.labels ?? [],
      mongoDBMajorVersion: b.mongoDBMajorVersion ?? '8.0'
    })
    cluster.until = Date.now() + this.state.delays.clusterCreateMs
    this.state.clusters.set(name, cluster)
    return cluster
  }

  private updateDedicated (cluster: SimCluster, body: unknown): SimCluster {
    if (cluster.stateName === 'DELETING') throw new HttpFailure(409, 'CLUSTER_ALREADY_REQUESTED_DELETION', `Cluster ${cluster.name} is being deleted.`, [cluster.name])
    const changes = asObject(body)
    for (const key of READ_ONLY_TOP) if (key in changes) throw new HttpFailure(UNVERIFIED.readOnlyField.status, UNVERIFIED.readOnlyField.code, `Invalid attribute ${key} specified.`, [key])
    if ('name' in changes && changes.name !== cluster.name) throw invalidAttribute('name')
    if ('terminationProtectionEnabled' in changes && changes.terminationProtectionEnabled !== cluster.body.terminationProtectionEnabled) {
      this.auth.requirePermission('owner')
    }
    const immediate: Record<string, unknown> = {}
    const later: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(changes)) {
      if (key === 'name') continue
      if (key === 'replicationSpecs') later[key] = normaliseSpecs(asArray(value), asArray(this.desired(cluster).replicationSpecs))
      else if (key === 'terminationProtectionEnabled' || key === 'tags' || key === 'labels') immediate[key] = value
      else later[key] = value
    }
    Object.assign(cluster.body, immediate)
    if (Object.keys(later).length > 0) {
      cluster.pending = { ...cluster.pending, ...later }
      cluster.stateName = 'UPDATING'
      cluster.until = Date.now() + this.state.delays.clusterUpdateMs
    }
    return cluster
  }

  private createFlex (body: unknown): SimCluster {
    const b = asObject(body)
    const name = this.checkNewCluster(b.name)
    const ps = asObject(b.providerSettings)
    if (!PROVIDERS.includes(String(ps.backingProviderName)) || typeof ps.regionName !== 'string') throw invalidAttribute('providerSettings')
    const cluster = this.state.newCluster('flex', name, {
      providerSettings: { backingProviderName: ps.backingProviderName, diskSizeGB: 5.0, providerName: 'FLEX', regionName: ps.regionName },
      terminationProtectionEnabled: b.terminationProtectionEnabled ?? false,
      ...(b.tags === undefined ? {} : { tags: b.tags })
    })
    cluster.until = Date.now() + this.state.delays.flexCreateMs
    this.state.clusters.set(name, cluster)
    return cluster
  }

  private updateFlex (cluster: SimCluster, body: unknown): SimCluster {
    const changes = asObject(body)
    for (const key of Object.keys(changes)) if (key !== 'tags' && key !== 'terminationProtectionEnabled') throw invalidAttribute(key)
    if ('terminationProtectionEnabled' in changes) this.auth.requirePermission('owner')
    Object.assign(cluster.body, changes)
    return cluster
  }

  private deleteCluster (cluster: SimCluster): void {
    if (cluster.body.terminationProtectionEnabled === true) {
      throw new HttpFailure(400, 'CANNOT_TERMINATE_CLUSTER_WHEN_TERMINATION_PROTECTION_ENABLED',
        'Cannot terminate a cluster when termination protection is enabled. Disable termination protection and try again.',
        [`Cannot terminate cluster ${cluster.name} in group ${this.project.projectId} because termination protection is enabled. Disable termination protection and try again.`])
    }
    if (cluster.stateName === 'DELETING') {
      throw new HttpFailure(400, 'CLUSTER_ALREADY_REQUESTED_DELETION', `Cluster ${cluster.name} has already been requested for deletion.`, [cluster.name])
    }
    cluster.stateName = 'DELETING'
    cluster.until = Date.now() + this.state.delays.clusterDeleteMs
  }

  /** The cluster as it will be once its update is done (what Atlas's answers show while UPDATING). */
  private desired (c: SimCluster): Record<string, unknown> {
    return { ...c.body, ...c.pending }
  }

  /**
   * Flex clusters have `standardSrv` from creation and only the two public strings; dedicated ones have nothing
   * while CREATING, then `privateEndpoint: []` beside the public strings (as recorded). With private networking
   * set up (`setPrivateNetworking`), VPC peering adds `private`/`privateSrv` (Atlas's `-pri` host names) and each
   * private endpoint an entry with its own `-pl-` host names and ports 1024+ (Atlas's documented forms).
   */
  private connectionStrings (c: SimCluster): Record<string, unknown> {
    const host = c.name.toLowerCase()
    const standardSrv = `mongodb+srv://${host}.${c.hostId}.mongodb.net`
    if (c.stateName === 'CREATING') return c.kind === 'flex' ? { standardSrv } : {}
    const options = `?ssl=true&authSource=admin&replicaSet=atlas-${c.hostId}-shard-0`
    const nodes = (suffix: string): string => [0, 1, 2].map(n => `${host}-shard-00-0${n}${suffix}.${c.hostId}.mongodb.net:27017`).join(',')
    const publicStrings = { standard: `mongodb://${nodes('')}/${options}`, standardSrv }
    if (c.kind === 'flex') return publicStrings
    const networking = c.privateNetworking
    return {
      ...(networking?.peering === true ? { private: `mongodb://${nodes('-pri')}/${options}`, privateSrv: `mongodb+srv://${host}-pri.${c.hostId}.mongodb.net` } : {}),
      privateEndpoint: (networking?.endpoints ?? []).map((endpoint, i) => {
        const pl = `${host}-pl-${i}.${c.hostId}.mongodb.net`
        return {
          connectionString: `mongodb://${[1024, 1025, 1026].map(port => `pl-${i}-${endpoint.region.toLowerCase().replace(/_/g, '-')}.${c.hostId}.mongodb.net:${port}`).join(',')}/${options}`,
          endpoints: [endpoint],
          srvConnectionString: `mongodb+srv://${pl}`,
          srvShardOptimizedConnectionString: `mongodb+srv://${pl}`,
          type: 'MONGOD'
        }
      }),
      ...publicStrings
    }
  }

  /** Sets up VPC peering and private endpoints for a dedicated cluster (what an operator does in Atlas). */
  setPrivateNetworking (name: string, networking: { peering?: boolean, endpointIds?: string[] }): void {
    const cluster = this.state.clusters.get(name)
    if (cluster === undefined) return
    const region = String(((cluster.body.replicationSpecs as Array<{ regionConfigs?: Array<{ regionName?: string, providerName?: string }> }> | undefined)?.[0]?.regionConfigs?.[0]?.regionName) ?? 'US_EAST_1')
    cluster.privateNetworking = {
      peering: networking.peering ?? false,
      endpoints: (networking.endpointIds ?? []).map(endpointId => ({ endpointId, providerName: 'AWS', region }))
    }
  }

  clusterView (c: SimCluster): Record<string, unknown> {
    const d = this.desired(c)
    const self = `${this.project.linkBase}/api/atlas/v2/groups/${this.project.projectId}/clusters/${c.name}`
    const major = String(d.mongoDBMajorVersion ?? '8.0')
    return {
      advancedConfiguration: { customOpensslCipherConfigTls12: [], customOpensslCipherConfigTls13: [], minimumEnabledTlsProtocol: 'TLS1_2', tlsCipherConfigMode: 'DEFAULT' },
      backupEnabled: d.backupEnabled ?? false,
      biConnector: { enabled: false, readPreference: 'secondary' },
      clusterType: d.clusterType ?? 'REPLICASET',
      connectionStrings: this.connectionStrings(c),
      createDate: c.createDate,
      diskWarmingMode: 'FULLY_WARMED',
      encryptionAtRestProvider: 'NONE',
      featureCompatibilityVersion: major,
      globalClusterSelfManagedSharding: false,
      groupId: this.project.projectId,
      id: c.id,
      internalClusterRole: 'NONE',
      labels: d.labels ?? [],
      links: [
        { href: self, rel: 'self' },
        { href: `${self}/backup/restoreJobs`, rel: 'https://cloud.mongodb.com/restoreJobs' },
        { href: `${self}/backup/snapshots`, rel: 'https://cloud.mongodb.com/snapshots' }
      ],
      mongoDBMajorVersion: major,
      mongoDBVersion: `${major}.16`,
      name: c.name,
      paused: d.paused ?? false,
      pitEnabled: d.pitEnabled ?? false,
      redactClientLogData: false,
      replicationSpecs: asArray(d.replicationSpecs).map(spec => withEffectiveSpecs(asObject(spec))),
      rootCertType: 'ISRGROOTX1',
      stateName: c.stateName,
      tags: d.tags ?? [],
      terminationProtectionEnabled: d.terminationProtectionEnabled ?? false,
      useAwsTimeBasedSnapshotCopyForFastInitialSync: false,
      versionReleaseSystem: 'LTS'
    }
  }

  flexView (c: SimCluster): Record<string, unknown> {
    return {
      backupSettings: { enabled: true },
      clusterType: 'REPLICASET',
      connectionStrings: this.connectionStrings(c),
      createDate: c.createDate,
      groupId: this.project.projectId,
      id: c.id,
      mongoDBVersion: '8.0.29',
      name: c.name,
      providerSettings: c.body.providerSettings,
      stateName: c.stateName,
      // Recorded: a flex create answer has no `tags` when none were sent; reads always have them.
      ...(c.body.tags === undefined && c.stateName === 'CREATING' ? {} : { tags: c.body.tags ?? [] }),
      terminationProtectionEnabled: c.body.terminationProtectionEnabled ?? false,
      versionReleaseSystem: 'LTS'
    }
  }
}

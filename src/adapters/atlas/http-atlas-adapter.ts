/**
 * AtlasPort over the Atlas Administration API v2, for one project. Each call pins the media-type version
 * ATLAS-API-SUBSET.md recommends for that operation; lists follow every page. Dedicated and flex clusters
 * share one name space: `getCluster` asks the cluster API first and the flex API when Atlas says the
 * cluster is a flex cluster.
 */
import {
  type AtlasCallOptions, type AtlasCluster, type AtlasPort, type AtlasProject, type ChangeStatus, type ClusterChanges,
  type ClusterKind, type ClusterSpec, type CredentialRole, type DatabaseUser, type DatabaseUserChanges,
  type DatabaseUserAuth, type DatabaseUserSpec, type Tag, type UserCallOptions, type AccessListEntry, type AccessListStatus, type AtlasOrgPort,
  type OrgProject, AtlasError
} from '../../ports/atlas-port.js'
import type { AtlasRole } from './atlas-errors.js'
import {
  accessEntryView, authDatabase, authFields, dedicatedView, flexView, type Paginated, projectView, type RawAccessEntry, type RawCluster,
  type RawProject, type RawUser, resizedSpecs, userView
} from './atlas-wire.js'
import { AtlasHttpClient, type AtlasHttpOptions, type AtlasRequest } from './atlas-http-client.js'

/** Media-type versions per operation (newest non-sunset, from ATLAS-API-SUBSET.md). */
export const ATLAS_VERSIONS = {
  project: '2023-01-01',
  clusterRead: '2024-08-05',
  clusterWrite: '2024-10-23',
  clusterDelete: '2023-02-01',
  clusterStatus: '2023-01-01',
  flex: '2024-11-13',
  databaseUsers: '2023-01-01',
  accessList: '2023-01-01',
  groups: '2023-01-01'
} as const

const PAGE_SIZE = 500
export interface HttpAtlasAdapterOptions extends AtlasHttpOptions {
  projectId: string
  /** Items per page when listing (Atlas allows 1-500). */
  pageSize?: number
}

export class HttpAtlasAdapter implements AtlasPort, AtlasOrgPort {
  private readonly http: AtlasHttpClient
  private readonly group: string
  private readonly projectId: string
  private readonly pageSize: number

  constructor (options: HttpAtlasAdapterOptions) {
    this.http = new AtlasHttpClient(options)
    this.projectId = options.projectId
    this.group = `/groups/${options.projectId}`
    this.pageSize = options.pageSize ?? PAGE_SIZE
  }

  async close (): Promise<void> {
    await this.http.close()
  }

  async getProject (options: AtlasCallOptions = {}): Promise<AtlasProject> {
    const { body } = await this.call<{ id: string, name: string }>({ method: 'GET', path: this.group, version: ATLAS_VERSIONS.project, idempotent: true }, options)
    return { id: body.id, name: body.name }
  }

  async credentialRoles (options: AtlasCallOptions = {}): Promise<CredentialRole[] | undefined> {
    const { body } = await this.call<{ apiKey?: { roles?: CredentialRole[] } | null }>({ method: 'GET', path: '', version: ATLAS_VERSIONS.project, idempotent: true }, options)
    const roles = body.apiKey?.roles
    return roles === undefined ? undefined : roles.map(r => ({ roleName: r.roleName, ...(r.groupId === undefined ? {} : { groupId: r.groupId }), ...(r.orgId === undefined ? {} : { orgId: r.orgId }) }))
  }

  async getCluster (name: string, options: AtlasCallOptions = {}): Promise<AtlasCluster> {
    try {
      const { body } = await this.call<RawCluster>({ method: 'GET', path: this.clusterPath('dedicated', name), version: ATLAS_VERSIONS.clusterRead, idempotent: true }, options)
      return dedicatedView(body)
    } catch (err) {
      if (!(err instanceof AtlasError) || err.errorCode !== 'CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API') throw err
    }
    const { body } = await this.call<RawCluster>({ method: 'GET', path: this.clusterPath('flex', name), version: ATLAS_VERSIONS.flex, idempotent: true }, options)
    return flexView(body)
  }

  async listClusters (options: AtlasCallOptions = {}): Promise<AtlasCluster[]> {
    const dedicated = await this.list<RawCluster>(`${this.group}/clusters`, ATLAS_VERSIONS.clusterRead, options)
    const flex = await this.list<RawCluster>(`${this.group}/flexClusters`, ATLAS_VERSIONS.flex, options)
    return [...dedicated.map(dedicatedView), ...flex.map(flexView)]
  }

  async createCluster (spec: ClusterSpec, options: AtlasCallOptions = {}): Promise<AtlasCluster> {
    if (spec.kind === 'flex') {
      const { body } = await this.call<RawCluster>({
        method: 'POST',
        path: `${this.group}/flexClusters`,
        version: ATLAS_VERSIONS.flex,
        idempotent: false,
        body: {
          name: spec.name,
          providerSettings: { backingProviderName: spec.providerName, regionName: spec.regionName },
          tags: spec.tags,
          terminationProtectionEnabled: spec.terminationProtectionEnabled ?? false
        }
      }, options)
      return flexView(body)
    }
    const { body } = await this.call<RawCluster>({
      method: 'POST',
      path: `${this.group}/clusters`,
      version: ATLAS_VERSIONS.clusterWrite,
      idempotent: false,
      body: {
        name: spec.name,
        clusterType: 'REPLICASET',
        backupEnabled: spec.backupEnabled ?? false,
        terminationProtectionEnabled: spec.terminationProtectionEnabled ?? false,
        ...(spec.mongoDBMajorVersion === undefined ? {} : { mongoDBMajorVersion: spec.mongoDBMajorVersion }),
        tags: spec.tags,
        replicationSpecs: [{
          regionConfigs: [{
            providerName: spec.providerName,
            regionName: spec.regionName,
            priority: 7,
            electableSpecs: { instanceSize: spec.instanceSize, nodeCount: 3 }
          }]
        }]
      }
    }, options)
    return dedicatedView(body)
  }

  async updateCluster (name: string, kind: ClusterKind, changes: ClusterChanges, options: AtlasCallOptions = {}): Promise<AtlasCluster> {
    if (kind === 'flex') {
      const { body } = await this.call<RawCluster>({
        method: 'PATCH',
        path: this.clusterPath('flex', name),
        version: ATLAS_VERSIONS.flex,
        idempotent: true,
        needs: changes.terminationProtectionEnabled === undefined ? 'Project Cluster Manager' : 'Project Owner',
        body: {
          ...(changes.tags === undefined ? {} : { tags: changes.tags }),
          ...(changes.terminationProtectionEnabled === undefined ? {} : { terminationProtectionEnabled: changes.terminationProtectionEnabled })
        }
      }, options)
      return flexView(body)
    }
    const patch: Record<string, unknown> = {}
    if (changes.tags !== undefined) patch.tags = changes.tags
    if (changes.terminationProtectionEnabled !== undefined) patch.terminationProtectionEnabled = changes.terminationProtectionEnabled
    if (changes.backupEnabled !== undefined) patch.backupEnabled = changes.backupEnabled
    if (changes.mongoDBMajorVersion !== undefined) patch.mongoDBMajorVersion = changes.mongoDBMajorVersion
    if (changes.instanceSize !== undefined) {
      const { body: current } = await this.call<RawCluster>({ method: 'GET', path: this.clusterPath('dedicated', name), version: ATLAS_VERSIONS.clusterRead, idempotent: true }, options)
      patch.replicationSpecs = resizedSpecs(current, changes.instanceSize)
    }
    const { body } = await this.call<RawCluster>({
      method: 'PATCH', path: this.clusterPath('dedicated', name), version: ATLAS_VERSIONS.clusterWrite, idempotent: true, body: patch,
      needs: changes.terminationProtectionEnabled === undefined ? 'Project Cluster Manager' : 'Project Owner'
    }, options)
    return dedicatedView(body)
  }

  async deleteCluster (name: string, kind: ClusterKind, options: AtlasCallOptions = {}): Promise<void> {
    await this.call({
      method: 'DELETE',
      path: this.clusterPath(kind, name),
      version: kind === 'flex' ? ATLAS_VERSIONS.flex : ATLAS_VERSIONS.clusterDelete,
      idempotent: true
    }, options)
  }

  async clusterChangeStatus (name: string, options: AtlasCallOptions = {}): Promise<ChangeStatus> {
    const { body } = await this.call<{ changeStatus?: string }>({
      method: 'GET', path: `${this.clusterPath('dedicated', name)}/status`, version: ATLAS_VERSIONS.clusterStatus, idempotent: true
    }, options)
    return body.changeStatus === 'APPLIED' ? 'APPLIED' : 'PENDING'
  }

  async createDatabaseUser (spec: DatabaseUserSpec, options: AtlasCallOptions = {}): Promise<DatabaseUser> {
    const { body } = await this.call<RawUser>({
      method: 'POST',
      path: `${this.group}/databaseUsers`,
      version: ATLAS_VERSIONS.databaseUsers,
      idempotent: false,
      secrets: spec.password === undefined ? [] : [spec.password],
      body: {
        databaseName: authDatabase(spec.auth),
        groupId: this.projectId,
        username: spec.username,
        ...(spec.auth === undefined || spec.auth === 'scram' ? { password: spec.password } : authFields(spec.auth)),
        roles: spec.roles,
        scopes: spec.scopes.map(name => ({ name, type: 'CLUSTER' })),
        labels: spec.labels,
        ...(spec.description === undefined ? {} : { description: spec.description }),
        ...(spec.deleteAfterDate === undefined ? {} : { deleteAfterDate: spec.deleteAfterDate })
      }
    }, options)
    return userView(body)
  }

  async getDatabaseUser (username: string, options: UserCallOptions = {}): Promise<DatabaseUser> {
    const { body } = await this.call<RawUser>({ method: 'GET', path: this.userPath(username, options.auth), version: ATLAS_VERSIONS.databaseUsers, idempotent: true }, options)
    return userView(body)
  }

  async updateDatabaseUser (username: string, changes: DatabaseUserChanges, options: UserCallOptions = {}): Promise<DatabaseUser> {
    const { body } = await this.call<RawUser>({
      method: 'PATCH',
      path: this.userPath(username, options.auth),
      version: ATLAS_VERSIONS.databaseUsers,
      idempotent: true,
      secrets: changes.password === undefined ? [] : [changes.password],
      // The spec's PATCH body is a CloudDatabaseUser, whose required fields come along with the changes.
      body: {
        databaseName: authDatabase(options.auth),
        groupId: this.projectId,
        username,
        ...(changes.password === undefined ? {} : { password: changes.password }),
        ...(changes.roles === undefined ? {} : { roles: changes.roles }),
        ...(changes.scopes === undefined ? {} : { scopes: changes.scopes.map(name => ({ name, type: 'CLUSTER' })) }),
        ...(changes.labels === undefined ? {} : { labels: changes.labels }),
        ...(changes.deleteAfterDate === undefined ? {} : { deleteAfterDate: changes.deleteAfterDate })
      }
    }, options)
    return userView(body)
  }

  async deleteDatabaseUser (username: string, options: UserCallOptions = {}): Promise<void> {
    await this.call({ method: 'DELETE', path: this.userPath(username, options.auth), version: ATLAS_VERSIONS.databaseUsers, idempotent: true }, options)
  }

  async createUserCertificate (username: string, months: number, options: AtlasCallOptions = {}): Promise<string> {
    // The certificate path names the user without its auth database (as MongoDB's clients call it).
    const { body } = await this.call<string>({
      method: 'POST',
      path: `${this.group}/databaseUsers/${encodeURIComponent(username)}/certs`,
      version: ATLAS_VERSIONS.databaseUsers,
      idempotent: false,
      text: true,
      body: { monthsUntilExpiration: months }
    }, options)
    return body
  }

  async listDatabaseUsers (options: AtlasCallOptions = {}): Promise<DatabaseUser[]> {
    return (await this.list<RawUser>(`${this.group}/databaseUsers`, ATLAS_VERSIONS.databaseUsers, options)).map(userView)
  }

  async * databaseUserPages (options: AtlasCallOptions = {}): AsyncIterable<DatabaseUser[]> {
    for await (const page of this.pages<RawUser>(`${this.group}/databaseUsers`, ATLAS_VERSIONS.databaseUsers, options)) yield page.map(userView)
  }

  // --- The project's IP access list (2023-01-01; a single address is echoed back as a /32 block, as recorded).

  async listAccessList (options: AtlasCallOptions = {}): Promise<AccessListEntry[]> {
    return (await this.list<RawAccessEntry>(`${this.group}/accessList`, ATLAS_VERSIONS.accessList, options)).map(accessEntryView)
  }

  async addAccessListEntries (entries: AccessListEntry[], options: AtlasCallOptions = {}): Promise<void> {
    if (entries.length === 0) return
    await this.call({
      method: 'POST', path: `${this.group}/accessList`, version: ATLAS_VERSIONS.accessList,
      // Adding an entry that is there already changes nothing, so a repeat after a lost answer is harmless.
      idempotent: true,
      body: entries.map(e => ({ cidrBlock: e.cidrBlock, ...(e.comment === undefined ? {} : { comment: e.comment }) }))
    }, options)
  }

  async accessListEntryStatus (cidrBlock: string, options: AtlasCallOptions = {}): Promise<AccessListStatus> {
    const { body } = await this.call<{ STATUS?: string }>({
      method: 'GET', path: `${this.group}/accessList/${encodeURIComponent(cidrBlock)}/status`, version: ATLAS_VERSIONS.accessList, idempotent: true
    }, options)
    return body.STATUS === 'ACTIVE' ? 'ACTIVE' : body.STATUS === 'FAILED' ? 'FAILED' : 'PENDING'
  }

  async deleteAccessListEntry (cidrBlock: string, options: AtlasCallOptions = {}): Promise<void> {
    await this.call({ method: 'DELETE', path: `${this.group}/accessList/${encodeURIComponent(cidrBlock)}`, version: ATLAS_VERSIONS.accessList, idempotent: true }, options)
  }

  // --- The organisation's projects (AtlasOrgPort).

  async createProject (spec: { name: string, orgId: string, tags: Tag[] }, options: AtlasCallOptions = {}): Promise<OrgProject> {
    const { body } = await this.call<RawProject>({
      method: 'POST', path: '/groups', version: ATLAS_VERSIONS.groups, idempotent: false, needs: 'Organization Project Creator',
      body: { name: spec.name, orgId: spec.orgId, tags: spec.tags }
    }, options)
    return projectView(body)
  }

  async findProject (name: string, options: AtlasCallOptions = {}): Promise<OrgProject | undefined> {
    try {
      const { body } = await this.call<RawProject>({ method: 'GET', path: `/groups/byName/${encodeURIComponent(name)}`, version: ATLAS_VERSIONS.groups, idempotent: true }, options)
      return projectView(body)
    } catch (err) {
      if (err instanceof AtlasError && (err.errorCode === 'GROUP_NAME_NOT_FOUND' || err.status === 404)) return undefined
      throw err
    }
  }

  async listProjects (options: AtlasCallOptions = {}): Promise<OrgProject[]> {
    return (await this.list<RawProject>('/groups', ATLAS_VERSIONS.groups, options)).map(projectView)
  }

  async deleteProject (projectId: string, options: AtlasCallOptions = {}): Promise<void> {
    await this.call({ method: 'DELETE', path: `/groups/${encodeURIComponent(projectId)}`, version: ATLAS_VERSIONS.groups, idempotent: true, needs: 'Project Owner' }, options)
  }

  private clusterPath (kind: ClusterKind, name: string): string {
    return `${this.group}/${kind === 'flex' ? 'flexClusters' : 'clusters'}/${encodeURIComponent(name)}`
  }

  private userPath (username: string, auth?: DatabaseUserAuth): string {
    return `${this.group}/databaseUsers/${authDatabase(auth)}/${encodeURIComponent(username)}`
  }

  private async call<T> (req: Omit<AtlasRequest, 'deadline'>, options: AtlasCallOptions): Promise<{ status: number, body: T }> {
    return await this.http.send<T>({ ...req, needs: req.needs ?? neededRole(req), ...(options.deadline === undefined ? {} : { deadline: options.deadline }) })
  }

  /** Every page's results, each page fetched when the previous one has been consumed, until one comes back short. */
  private async * pages<T> (path: string, version: string, options: AtlasCallOptions): AsyncIterable<T[]> {
    for (let pageNum = 1; ; pageNum++) {
      const { body } = await this.call<Paginated<T>>({
        method: 'GET', path: `${path}?pageNum=${pageNum}&itemsPerPage=${this.pageSize}&includeCount=false`, version, idempotent: true
      }, options)
      const results = body.results ?? []
      if (results.length > 0) yield results
      if (results.length < this.pageSize) return
    }
  }

  private async list<T> (path: string, version: string, options: AtlasCallOptions): Promise<T[]> {
    const all: T[] = []
    for await (const page of this.pages<T>(path, version, options)) all.push(...page)
    return all
  }
}

/** The project role a call needs (named in the error when the credentials lack it). */
function neededRole (req: Pick<AtlasRequest, 'method' | 'path'>): AtlasRole {
  if (req.method === 'GET') return 'Project Read Only'
  // Issuing an X.509 certificate needs Project Owner (the spec's x-rolesRequirements).
  if (req.path.endsWith('/certs')) return 'Project Owner'
  if (req.path.includes('/databaseUsers')) return 'Project Database Access Admin'
  return req.method === 'DELETE' ? 'Project Owner' : 'Project Cluster Manager'
}

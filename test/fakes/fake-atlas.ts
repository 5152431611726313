/**
 * A stateful in-memory AtlasPort that throws the real port errors, with failure injection: the domain's
 * tests run against it (brokerapi's FakeServiceBroker / the Atlas broker's MockAtlasClient pattern).
 */
import { CertificateAuthority } from '../../src/adapters/atlas/simulator/certificates.js'
import {
  type AtlasCallOptions, type AtlasCluster, type AtlasPort, type AtlasProject, type ChangeStatus, type ClusterChanges, type ClusterKind,
  type ClusterSpec, type CredentialRole, type DatabaseUser, type DatabaseUserAuth, type DatabaseUserChanges, type DatabaseUserSpec, type UserCallOptions,
  type AccessListEntry, type AccessListStatus, AccessListEntryNotFoundError, AtlasRequestError,
  ClusterNotFoundError, DatabaseUserExistsError, DatabaseUserNotFoundError, DuplicateClusterNameError
} from '../../src/ports/atlas-port.js'

type Method = keyof AtlasPort

export class FakeAtlas implements AtlasPort {
  readonly clusters = new Map<string, AtlasCluster>()
  readonly users = new Map<string, FakeUser>()
  /** Certificates issued, per username (their PEMs). */
  readonly certificates = new Map<string, string[]>()
  private authority: CertificateAuthority | undefined
  readonly calls: Method[] = []
  /** The deadline each delete was given (undefined: none, i.e. the adapter's default budget). */
  readonly deadlines: Array<{ method: Method, deadline: number | undefined }> = []
  /** Cluster change status answers, consumed one per call; APPLIED once empty. */
  readonly changeStatuses: ChangeStatus[] = []
  private readonly failures = new Map<Method, Error[]>()
  private readonly lostAnswers = new Map<Method, Error[]>()
  private readonly delays = new Map<Method, number>()
  private readonly holds = new Map<Method, Array<{ arrived: () => void, released: Promise<void> }>>()

  constructor (clusterNames: string[] = ['Cluster0']) {
    for (const name of clusterNames) this.addCluster(name)
  }

  addCluster (name: string): void {
    this.clusters.set(name, {
      name,
      kind: 'dedicated',
      stateName: 'IDLE',
      instanceSize: 'M10',
      terminationProtectionEnabled: false,
      tags: [],
      connectionStrings: {
        standard: `mongodb://${name.toLowerCase()}-shard-00-00.abcde.mongodb.net:27017,${name.toLowerCase()}-shard-00-01.abcde.mongodb.net:27017/?ssl=true&authSource=admin&replicaSet=atlas-abc-shard-0`,
        standardSrv: `mongodb+srv://${name.toLowerCase()}.abcde.mongodb.net`
      }
    })
  }

  /** The next call of `method` throws `err` (several calls queue several failures). */
  failNext (method: Method, err: Error): void {
    const queue = this.failures.get(method) ?? []
    queue.push(err)
    this.failures.set(method, queue)
  }

  /** The next call of `method` takes effect in Atlas, then throws `err` (an answer lost to a timeout). */
  loseAnswerNext (method: Method, err: Error): void {
    const queue = this.lostAnswers.get(method) ?? []
    queue.push(err)
    this.lostAnswers.set(method, queue)
  }

  private leave (method: Method): void {
    const err = this.lostAnswers.get(method)?.shift()
    if (err !== undefined) throw err
  }

  delay (method: Method, ms: number): void {
    this.delays.set(method, ms)
  }

  /**
   * Holds the next call of `method` until `release()`: `reached` resolves when the call arrives, so a test can
   * order concurrent requests deterministically.
   */
  hold (method: Method): { reached: Promise<void>, release: () => void } {
    let arrived!: () => void
    let release!: () => void
    const reached = new Promise<void>(resolve => { arrived = resolve })
    const released = new Promise<void>(resolve => { release = resolve })
    const queue = this.holds.get(method) ?? []
    queue.push({ arrived, released })
    this.holds.set(method, queue)
    return { reached, release }
  }

  private async enter (method: Method): Promise<void> {
    this.calls.push(method)
    const held = this.holds.get(method)?.shift()
    if (held !== undefined) { held.arrived(); await held.released }
    const ms = this.delays.get(method)
    if (ms !== undefined) await new Promise(resolve => setTimeout(resolve, ms))
    const err = this.failures.get(method)?.shift()
    if (err !== undefined) throw err
  }

  count (method: Method): number {
    return this.calls.filter(m => m === method).length
  }

  /** The roles `credentialRoles` answers (default: Project Owner of the project). */
  roles: CredentialRole[] | undefined = [{ roleName: 'GROUP_OWNER', groupId: 'fake-project' }]

  async credentialRoles (): Promise<CredentialRole[] | undefined> {
    await this.enter('credentialRoles')
    return this.roles
  }

  async getProject (): Promise<AtlasProject> {
    await this.enter('getProject')
    return { id: '0123456789abcdef01234567', name: 'fake' }
  }

  async getCluster (name: string): Promise<AtlasCluster> {
    await this.enter('getCluster')
    const found = this.clusters.get(name)
    if (found === undefined) throw new ClusterNotFoundError(`No cluster named ${name} exists in group fake.`, { status: 404, errorCode: 'CLUSTER_NOT_FOUND' })
    return structuredClone(found)
  }

  async listClusters (): Promise<AtlasCluster[]> {
    await this.enter('listClusters')
    return [...this.clusters.values()].map(c => structuredClone(c))
  }

  async createCluster (spec: ClusterSpec): Promise<AtlasCluster> {
    await this.enter('createCluster')
    if (this.clusters.has(spec.name)) throw new DuplicateClusterNameError(`Cluster ${spec.name} already exists.`, { status: 400, errorCode: 'DUPLICATE_CLUSTER_NAME' })
    const cluster: AtlasCluster = {
      name: spec.name, kind: spec.kind, stateName: 'CREATING', terminationProtectionEnabled: spec.terminationProtectionEnabled ?? false, tags: spec.tags, connectionStrings: {}
    }
    this.clusters.set(spec.name, cluster)
    return structuredClone(cluster)
  }

  async updateCluster (name: string, _kind: ClusterKind, changes: ClusterChanges): Promise<AtlasCluster> {
    await this.enter('updateCluster')
    const cluster = this.clusters.get(name)
    if (cluster === undefined) throw new ClusterNotFoundError(`No cluster named ${name}.`, { status: 404, errorCode: 'CLUSTER_NOT_FOUND' })
    Object.assign(cluster, changes, { stateName: 'UPDATING' })
    this.leave('updateCluster')
    return structuredClone(cluster)
  }

  async deleteCluster (name: string, _kind?: ClusterKind, options?: AtlasCallOptions): Promise<void> {
    this.deadlines.push({ method: 'deleteCluster', deadline: options?.deadline })
    await this.enter('deleteCluster')
    if (!this.clusters.delete(name)) throw new ClusterNotFoundError(`No cluster named ${name}.`, { status: 404, errorCode: 'CLUSTER_NOT_FOUND' })
  }

  async clusterChangeStatus (name: string): Promise<ChangeStatus> {
    await this.enter('clusterChangeStatus')
    if (!this.clusters.has(name)) throw new ClusterNotFoundError(`No cluster named ${name}.`, { status: 404, errorCode: 'CLUSTER_NOT_FOUND' })
    const queued = this.changeStatuses.shift()
    if (queued !== undefined) return queued
    return this.propagationMs > 0 && Date.now() - this.lastUserChange < this.propagationMs ? 'PENDING' : 'APPLIED'
  }

  /** User changes take this long to reach the clusters (0: at once), measured from the last change. */
  propagationMs = 0
  private lastUserChange = 0

  async createDatabaseUser (spec: DatabaseUserSpec, _options?: AtlasCallOptions): Promise<DatabaseUser> {
    await this.enter('createDatabaseUser')
    if (this.users.has(spec.username)) throw new DatabaseUserExistsError(`User ${spec.username} already exists.`, { status: 409, errorCode: 'USER_ALREADY_EXISTS' })
    const user: FakeUser = {
      username: spec.username, auth: spec.auth ?? 'scram', password: spec.password ?? '', roles: spec.roles, scopes: spec.scopes, labels: spec.labels,
      ...(spec.deleteAfterDate === undefined ? {} : { deleteAfterDate: spec.deleteAfterDate })
    }
    this.users.set(spec.username, user)
    this.lastUserChange = Date.now()
    this.leave('createDatabaseUser')
    return publicUser(user)
  }

  async getDatabaseUser (username: string, options?: UserCallOptions): Promise<DatabaseUser> {
    await this.enter('getDatabaseUser')
    const user = this.user(username, options)
    if (user === undefined) throw new DatabaseUserNotFoundError(`No user ${username}.`, { status: 404, errorCode: 'USERNAME_NOT_FOUND' })
    return publicUser(user)
  }

  async updateDatabaseUser (username: string, changes: DatabaseUserChanges, options?: UserCallOptions): Promise<DatabaseUser> {
    await this.enter('updateDatabaseUser')
    const user = this.user(username, options)
    if (user === undefined) throw new DatabaseUserNotFoundError(`No user ${username}.`, { status: 404, errorCode: 'USERNAME_NOT_FOUND' })
    Object.assign(user, changes)
    this.leave('updateDatabaseUser')
    return publicUser(user)
  }

  async deleteDatabaseUser (username: string, options?: UserCallOptions): Promise<void> {
    this.deadlines.push({ method: 'deleteDatabaseUser', deadline: options?.deadline })
    await this.enter('deleteDatabaseUser')
    if (this.user(username, options) === undefined || !this.users.delete(username)) {
      throw new DatabaseUserNotFoundError(`No user ${username}.`, { status: 404, errorCode: 'USER_NOT_FOUND' })
    }
  }

  /** Issues a real certificate (signed by a key of the fake's own) to an X.509 user. */
  async createUserCertificate (username: string, months: number): Promise<string> {
    await this.enter('createUserCertificate')
    const user = this.users.get(username)
    if (user === undefined) throw new DatabaseUserNotFoundError(`No user ${username}.`, { status: 404, errorCode: 'USERNAME_NOT_FOUND' })
    if (user.auth !== 'x509') throw new AtlasRequestError('Invalid attribute x509Type specified.', { status: 400, errorCode: 'INVALID_ATTRIBUTE' })
    this.authority ??= new CertificateAuthority('fake-project')
    const { pem } = this.authority.issue(username, months)
    this.certificates.set(username, [...(this.certificates.get(username) ?? []), pem])
    this.leave('createUserCertificate')
    return pem
  }

  /** The user, if it lives where `options.auth` says (Atlas keys users by auth database and name). */
  private user (username: string, options?: UserCallOptions): FakeUser | undefined {
    const user = this.users.get(username)
    const where = (auth: DatabaseUserAuth): string => auth === 'scram' ? 'admin' : '$external'
    return user === undefined || where(user.auth ?? 'scram') !== where(options?.auth ?? 'scram') ? undefined : user
  }

  async listDatabaseUsers (): Promise<DatabaseUser[]> {
    await this.enter('listDatabaseUsers')
    return [...this.users.values()].map(publicUser)
  }

  /** The project's IP access list: cidrBlock → entry and status. */
  readonly accessList = new Map<string, { entry: AccessListEntry, status: AccessListStatus }>()

  async listAccessList (): Promise<AccessListEntry[]> {
    await this.enter('listAccessList')
    return [...this.accessList.values()].map(e => structuredClone(e.entry))
  }

  async addAccessListEntries (entries: AccessListEntry[]): Promise<void> {
    await this.enter('addAccessListEntries')
    for (const entry of entries) if (!this.accessList.has(entry.cidrBlock)) this.accessList.set(entry.cidrBlock, { entry: structuredClone(entry), status: 'ACTIVE' })
  }

  async accessListEntryStatus (cidrBlock: string): Promise<AccessListStatus> {
    await this.enter('accessListEntryStatus')
    const found = this.accessList.get(cidrBlock)
    if (found === undefined) throw new AccessListEntryNotFoundError(`No entry ${cidrBlock}.`, { status: 404, errorCode: 'ATLAS_NETWORK_PERMISSION_ENTRY_NOT_FOUND' })
    return found.status
  }

  async deleteAccessListEntry (cidrBlock: string): Promise<void> {
    await this.enter('deleteAccessListEntry')
    if (!this.accessList.delete(cidrBlock)) throw new AccessListEntryNotFoundError(`No entry ${cidrBlock}.`, { status: 404, errorCode: 'ATLAS_NETWORK_PERMISSION_ENTRY_NOT_FOUND' })
  }

  /** Pages of `userPageSize` (100), each fetched (and failing, if told to) as it is consumed. */
  userPageSize = 100
  async * databaseUserPages (): AsyncIterable<DatabaseUser[]> {
    const all = [...this.users.values()]
    for (let start = 0; start < all.length; start += this.userPageSize) {
      await this.enter('databaseUserPages')
      yield all.slice(start, start + this.userPageSize).map(publicUser)
    }
  }
}

/** A user as the fake keeps it; `auth` absent is scram (tests put users in directly). */
export interface FakeUser extends Omit<DatabaseUser, 'auth'> {
  auth?: DatabaseUserAuth
  password: string
  deleteAfterDate?: string
}

function publicUser (user: FakeUser): DatabaseUser {
  return structuredClone({ username: user.username, auth: user.auth ?? 'scram', roles: user.roles, scopes: user.scopes, labels: user.labels })
}

/**
 * StoragePort: where the broker keeps its instances, bindings, their latest operations and tombstones.
 * Shaped for a document store: records keyed by their OSB id, atomic create-if-absent, and conditional
 * updates on a `version` that the store increments, so two replicas racing on one record cannot both win.
 */
import type { AccessListEntry, AtlasTarget, ConnectionStrings } from './atlas-port.js'
import type { JsonObject, LastOperationState } from './service-broker.js'

export type ResourceState = 'creating' | 'ready' | 'updating' | 'deleting' | 'deleted'

export type OperationKind = 'provision' | 'update' | 'deprovision' | 'bind' | 'unbind'

/** The latest operation on a record; last_operation answers from it. */
export interface OperationRecord {
  id: string
  kind: OperationKind
  state: LastOperationState
  description?: string
  instanceUsable?: boolean
  updateRepeatable?: boolean
  /** For an update in progress: the plan and parameters the instance has once it succeeds. */
  targetPlanId?: string
  targetParameters?: JsonObject
  startedAt: string
  updatedAt: string
}

/** Fields shared by every stored record; `version` and the timestamps belong to the store. */
export interface StoredFields {
  id: string
  state: ResourceState
  lastOperation: OperationRecord
  /** Until when the replica that set an in-progress state owns it (ISO time); after that another may take over. */
  leaseUntil?: string
  version: number
  createdAt: string
  updatedAt: string
}

export interface DatabaseRole {
  roleName: string
  databaseName: string
  collectionName?: string
}

/**
 * The project an instance of a project-per-instance plan owns, and how far making it has got: `project` until
 * Atlas has it, `network` until its access list holds the entries, `cluster` once the cluster may be created.
 */
export interface OwnProject {
  name: string
  organizationId: string
  /** The organisation key's credentials name (absent: the configured credentials). */
  credentials?: string
  stage: 'project' | 'network' | 'cluster'
  accessList: AccessListEntry[]
}

export interface InstanceRecord extends StoredFields {
  serviceId: string
  planId: string
  organizationGuid: string
  spaceGuid: string
  context?: JsonObject
  parameters: JsonObject
  maintenanceVersion?: string
  cluster: string
  database: string
  /** The Atlas project (and credentials) the instance lives in, when its plan names one; absent: the configured project. */
  project?: AtlasTarget
  /** Project-per-instance plans: the project the instance owns (deleted with it). */
  ownProject?: OwnProject
  /** Set on records imported from another broker's state (`atlas-broker import-seed`). */
  origin?: 'python-atlasbroker'
}

/** How a binding's user authenticates when not with a password (see the bind parameter `auth`). */
export type PasswordlessAuth =
  | { kind: 'aws-iam', roleArn: string }
  | { kind: 'x509', certificateMonths: number }
  | { kind: 'oidc', identity: string, environment?: 'k8s' | 'azure' | 'gcp', tokenResource?: string }

/** A binding that reaches its cluster privately: through VPC peering or private endpoints (one, or the first). */
export interface PrivateConnection {
  kind: 'private' | 'privateEndpoint'
  endpointId?: string
}

export interface BindingRecord extends StoredFields {
  instanceId: string
  serviceId: string
  planId: string
  parameters: JsonObject
  appGuid?: string
  bindResource?: JsonObject
  context?: JsonObject
  username: string
  roles: DatabaseRole[]
  cluster: string
  database: string
  /** Only for credentials a policy marks unpredictable: the password sealed with the broker key. */
  sealedPassword?: string
  /** Id of the credentials secret this binding's password is derived or sealed with (rotation). */
  keyId?: string
  /** The cluster's connection strings when the binding was made (answers while Atlas cannot be reached). */
  connectionStrings?: ConnectionStrings
  /** The private path its `uri` takes (absent: the public strings). */
  connection?: PrivateConnection
  /** Its instance's Atlas project, when not the configured one. */
  project?: AtlasTarget
  /** Expiring credentials: Atlas deletes the binding's user at this time (ISO 8601). */
  expiresAt?: string
  /** Binding rotation: the binding this one replaced (both stay valid until each is unbound). */
  predecessorBindingId?: string
  /** Passwordless bindings: how the user authenticates (absent: a password, SCRAM). */
  auth?: PasswordlessAuth
  /** X.509 bindings: the certificate and private key Atlas issued (one PEM), sealed with the broker key. */
  sealedCertificate?: string
  /** Set on records imported from another broker's state; such a binding's password was never known to this broker. */
  origin?: 'python-atlasbroker'
}

export type NewRecord<T extends StoredFields> = Omit<T, 'version' | 'createdAt' | 'updatedAt'>
export type RecordChanges<T extends StoredFields> = Partial<Omit<T, 'id' | 'version' | 'createdAt' | 'updatedAt'>>

export interface StoragePort {
  /** Creates the record if no record has its id. Throws RecordExistsError otherwise (deleted tombstones included). */
  createInstance(record: NewRecord<InstanceRecord>): Promise<InstanceRecord>
  /** The record, tombstones included, or undefined. */
  getInstance(id: string): Promise<InstanceRecord | undefined>
  /** Applies changes if the stored version still equals expectedVersion; throws VersionConflictError otherwise. */
  updateInstance(id: string, expectedVersion: number, changes: RecordChanges<InstanceRecord>): Promise<InstanceRecord>
  /** Removes the record if its version still matches (used to undo a create that failed). */
  deleteInstance(id: string, expectedVersion: number): Promise<void>

  createBinding(record: NewRecord<BindingRecord>): Promise<BindingRecord>
  getBinding(id: string): Promise<BindingRecord | undefined>
  updateBinding(id: string, expectedVersion: number, changes: RecordChanges<BindingRecord>): Promise<BindingRecord>
  deleteBinding(id: string, expectedVersion: number): Promise<void>
  /** The bindings of an instance that are not deleted tombstones. */
  listBindings(instanceId: string): Promise<BindingRecord[]>
  /** Every binding that is not a deleted tombstone, in id order, `pageSize` at a time, each page read as the previous is consumed (sweep). */
  liveBindingPages(pageSize?: number): AsyncIterable<BindingRecord[]>
  /** Instances (not deleted tombstones) whose database is `database` on `cluster`. */
  listInstancesUsingDatabase(cluster: string, database: string): Promise<InstanceRecord[]>

  /** How many instances and bindings have an operation in progress (metrics). */
  countOperationsInProgress(): Promise<number>
  /** Resolves when the store is reachable (readiness). */
  ping(): Promise<void>
  close(): Promise<void>
}

/** Base of every storage error; adapters translate driver errors into these once. */
export class StorageError extends Error {
  readonly code: string = 'STORAGE_ERROR'
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** Create-if-absent found a record with that id. */
export class RecordExistsError extends StorageError {
  override readonly code = 'STORAGE_RECORD_EXISTS'
}

/** The record changed (or vanished) since it was read. */
export class VersionConflictError extends StorageError {
  override readonly code = 'STORAGE_VERSION_CONFLICT'
}

/** The store could not be reached or did not answer in time (the seed's ErrStorageMongoConnection). */
export class StorageUnavailableError extends StorageError {
  override readonly code = 'STORAGE_UNAVAILABLE'
}

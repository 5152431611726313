/**
 * AtlasPort: what the broker needs from the Atlas Administration API v2, for one Atlas project.
 * Named for the broker's needs, not Atlas's endpoints. Implementations translate every HTTP or network
 * failure into the AtlasError subclasses below, keyed on Atlas's `errorCode`, never on its text.
 */
import type { DatabaseRole } from './storage-port.js'

export type ClusterStateName = 'IDLE' | 'CREATING' | 'UPDATING' | 'DELETING' | 'REPAIRING'
export type ClusterKind = 'dedicated' | 'flex'
export type ChangeStatus = 'PENDING' | 'APPLIED'

export interface Tag {
  key: string
  value: string
}

export interface ConnectionStrings {
  standard?: string
  standardSrv?: string
  /** VPC peering: once peering exists (on AWS only with custom DNS). */
  private?: string
  privateSrv?: string
  /** Private endpoints: once the cluster has one in every region it runs in. */
  privateEndpoint?: PrivateEndpointStrings[]
}

/** The connection strings through one set of private endpoints (Atlas's `connectionStrings.privateEndpoint[]`). */
export interface PrivateEndpointStrings {
  connectionString?: string
  srvConnectionString?: string
  srvShardOptimizedConnectionString?: string
  /** The cloud provider's endpoint ids this entry goes through. */
  endpointIds: string[]
}

export interface AtlasCluster {
  name: string
  kind: ClusterKind
  stateName: ClusterStateName
  /** Tier for dedicated clusters (M10, ...), `FLEX` for flex clusters. */
  instanceSize?: string
  providerName?: string
  regionName?: string
  mongoDBVersion?: string
  backupEnabled?: boolean
  terminationProtectionEnabled: boolean
  tags: Tag[]
  connectionStrings: ConnectionStrings
}

export interface ClusterSpec {
  name: string
  kind: ClusterKind
  /** Dedicated tier, e.g. M10. Ignored for flex. */
  instanceSize?: string
  /** Cloud provider (AWS, AZURE, GCP); for flex, the backing provider. */
  providerName: string
  regionName: string
  mongoDBMajorVersion?: string
  backupEnabled?: boolean
  terminationProtectionEnabled?: boolean
  tags: Tag[]
}

export interface ClusterChanges {
  instanceSize?: string
  backupEnabled?: boolean
  terminationProtectionEnabled?: boolean
  mongoDBMajorVersion?: string
  tags?: Tag[]
}

/**
 * How a database user proves who it is: a password (SCRAM; the user lives on `admin`), or, with no password
 * and living on `$external`: an AWS IAM role (the username is the role's ARN), a certificate Atlas issues
 * (X.509, Atlas-managed), or OIDC workload identity (the username is `<identity provider id>/<identity>`).
 */
export type DatabaseUserAuth = 'scram' | 'aws-iam' | 'x509' | 'oidc'
export const DATABASE_USER_AUTHS = ['scram', 'aws-iam', 'x509', 'oidc'] as const satisfies readonly DatabaseUserAuth[]

export interface DatabaseUserSpec {
  username: string
  /** Default scram. */
  auth?: DatabaseUserAuth
  /** Required for scram; never sent for the others. */
  password?: string
  roles: DatabaseRole[]
  /** Clusters the user may reach; the broker always scopes a binding's user to its instance's cluster. */
  scopes: string[]
  labels: Tag[]
  description?: string
  /** A temporary user: Atlas deletes it at this time (ISO 8601, at most a week ahead). */
  deleteAfterDate?: string
}

/** A database user as Atlas returns it (never with its password). */
export interface DatabaseUser {
  username: string
  auth: DatabaseUserAuth
  roles: DatabaseRole[]
  scopes: string[]
  labels: Tag[]
}

export interface DatabaseUserChanges {
  password?: string
  deleteAfterDate?: string
  roles?: DatabaseRole[]
  scopes?: string[]
  labels?: Tag[]
}

export interface AtlasProject {
  id: string
  name: string
}

/** A role the broker's credentials hold, as Atlas names it (GROUP_OWNER, ORG_OWNER, ...). */
export interface CredentialRole {
  roleName: string
  groupId?: string
  orgId?: string
}

/**
 * An Atlas project other than the configured one, and the named credentials to reach it with (a plan's
 * `atlas.projectId` and `atlas.credentials`). Either part absent means the configured one.
 */
export interface AtlasTarget {
  projectId?: string
  credentials?: string
}

/** The AtlasPort of a target (one per project and credentials); throws for credentials that are not configured. */
export type AtlasFor = (target: AtlasTarget) => AtlasPort

/** The organisation-level part of the API (projects), reached with an organisation key: named credentials or the configured ones. */
export type AtlasOrgFor = (credentials: string | undefined) => AtlasOrgPort

/** A project as the organisation lists it. */
export interface OrgProject {
  id: string
  name: string
  tags: Tag[]
}

/**
 * What the broker needs of an Atlas organisation: projects of its own (project-per-instance plans). Errors
 * as AtlasPort's; a create that fails with AtlasUnavailableError may have been applied.
 */
export interface AtlasOrgPort {
  /** Creates a project in the organisation. Throws ProjectExistsError for a name taken there. */
  createProject(spec: { name: string, orgId: string, tags: Tag[] }, options?: AtlasCallOptions): Promise<OrgProject>
  /** The project of that name, or undefined. */
  findProject(name: string, options?: AtlasCallOptions): Promise<OrgProject | undefined>
  /** Every project the credentials can see (all pages). */
  listProjects(options?: AtlasCallOptions): Promise<OrgProject[]>
  /** Deletes a project. Throws ProjectNotFoundError when it is gone, ProjectNotEmptyError while it has clusters. */
  deleteProject(projectId: string, options?: AtlasCallOptions): Promise<void>
}

/** One entry of a project's IP access list: an address or a CIDR block. */
export interface AccessListEntry {
  /** A CIDR block (a single address as /32 or /128, as Atlas echoes it). */
  cidrBlock: string
  comment?: string
}

export type AccessListStatus = 'PENDING' | 'ACTIVE' | 'FAILED'

export interface AtlasCallOptions {
  /** Epoch milliseconds by which the call, retries included, must have settled. */
  deadline?: number
}

export interface UserCallOptions extends AtlasCallOptions {
  /** How the user authenticates, which decides where Atlas keeps it (default scram). */
  auth?: DatabaseUserAuth
}

/**
 * What the broker needs of the Atlas Administration API. Errors: every method throws the errors below. A
 * create (POST) is retried only after answers that mean nothing was made (429, 503), never after a timeout
 * or another 5xx; so a create that fails with anything but AtlasUnavailableError made nothing, while one that
 * fails with AtlasUnavailableError may have been applied with its answer lost. Updates and deletes are
 * idempotent and retried after timeouts and 5xx as well.
 */
export interface AtlasPort {
  /** The configured project; also proves the credentials work. Throws AtlasAuthError, ProjectNotFoundError. */
  getProject(options?: AtlasCallOptions): Promise<AtlasProject>
  /** The roles the credentials hold, read without changing anything; undefined where Atlas lists none (service accounts). */
  credentialRoles(options?: AtlasCallOptions): Promise<CredentialRole[] | undefined>

  /** A dedicated or flex cluster by name. Throws ClusterNotFoundError. */
  getCluster(name: string, options?: AtlasCallOptions): Promise<AtlasCluster>
  /** Every dedicated and flex cluster in the project (all pages). */
  listClusters(options?: AtlasCallOptions): Promise<AtlasCluster[]>
  /** Starts creating a cluster (CREATING). Throws DuplicateClusterNameError, AtlasRequestError. */
  createCluster(spec: ClusterSpec, options?: AtlasCallOptions): Promise<AtlasCluster>
  /** Starts changing a cluster (UPDATING). Throws ClusterNotFoundError, AtlasRequestError. */
  updateCluster(name: string, kind: ClusterKind, changes: ClusterChanges, options?: AtlasCallOptions): Promise<AtlasCluster>
  /** Starts deleting a cluster. Throws ClusterNotFoundError, TerminationProtectedError. */
  deleteCluster(name: string, kind: ClusterKind, options?: AtlasCallOptions): Promise<void>
  /** Whether the latest user changes have reached the cluster (APPLIED) or not yet (PENDING). */
  clusterChangeStatus(name: string, options?: AtlasCallOptions): Promise<ChangeStatus>

  /** Creates a database user authenticated as `spec.auth` says. Throws DatabaseUserExistsError, AtlasRequestError. */
  createDatabaseUser(spec: DatabaseUserSpec, options?: AtlasCallOptions): Promise<DatabaseUser>
  /** Throws DatabaseUserNotFoundError. */
  getDatabaseUser(username: string, options?: UserCallOptions): Promise<DatabaseUser>
  /** Throws DatabaseUserNotFoundError. */
  updateDatabaseUser(username: string, changes: DatabaseUserChanges, options?: UserCallOptions): Promise<DatabaseUser>
  /** Throws DatabaseUserNotFoundError. */
  deleteDatabaseUser(username: string, options?: UserCallOptions): Promise<void>
  /**
   * Issues a certificate for an X.509 (Atlas-managed) user, valid for `months` (1 to 24): the PEM of the
   * certificate followed by its private key, which Atlas never shows again. Each call issues a new one (a
   * create: not retried after a lost answer). Throws DatabaseUserNotFoundError, AtlasRequestError.
   */
  createUserCertificate(username: string, months: number, options?: AtlasCallOptions): Promise<string>
  /** Every database user in the project (all pages). */
  listDatabaseUsers(options?: AtlasCallOptions): Promise<DatabaseUser[]>
  /** The project's database users one page at a time, fetched as they are consumed: bounded memory for any count. */
  databaseUserPages(options?: AtlasCallOptions): AsyncIterable<DatabaseUser[]>

  /** The project's IP access list. */
  listAccessList(options?: AtlasCallOptions): Promise<AccessListEntry[]>
  /** Adds entries (one call: Atlas refuses concurrent additions); an entry already there is kept. */
  addAccessListEntries(entries: AccessListEntry[], options?: AtlasCallOptions): Promise<void>
  /** Whether an entry is in force yet. Throws AccessListEntryNotFoundError. */
  accessListEntryStatus(cidrBlock: string, options?: AtlasCallOptions): Promise<AccessListStatus>
  /** Throws AccessListEntryNotFoundError. */
  deleteAccessListEntry(cidrBlock: string, options?: AtlasCallOptions): Promise<void>
}

export interface AtlasErrorDetails {
  /** HTTP status Atlas answered with, when it answered. */
  status?: number
  /** Atlas's `errorCode`, when it answered with its error envelope. */
  errorCode?: string
  cause?: unknown
}

/** Base of every Atlas error. `message` is Atlas's `detail` (never a secret) or a description of the failure. */
export class AtlasError extends Error {
  readonly code: string = 'ATLAS_ERROR'
  readonly status: number | undefined
  readonly errorCode: string | undefined
  constructor (message: string, details: AtlasErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = new.target.name
    this.status = details.status
    this.errorCode = details.errorCode
  }
}

export class ClusterNotFoundError extends AtlasError { override readonly code = 'ATLAS_CLUSTER_NOT_FOUND' }
export class DuplicateClusterNameError extends AtlasError { override readonly code = 'ATLAS_DUPLICATE_CLUSTER_NAME' }
export class TerminationProtectedError extends AtlasError { override readonly code = 'ATLAS_TERMINATION_PROTECTED' }
export class DatabaseUserExistsError extends AtlasError { override readonly code = 'ATLAS_USER_EXISTS' }
export class DatabaseUserNotFoundError extends AtlasError { override readonly code = 'ATLAS_USER_NOT_FOUND' }
export class ProjectNotFoundError extends AtlasError { override readonly code = 'ATLAS_PROJECT_NOT_FOUND' }
export class ProjectExistsError extends AtlasError { override readonly code = 'ATLAS_PROJECT_EXISTS' }
export class ProjectNotEmptyError extends AtlasError { override readonly code = 'ATLAS_PROJECT_NOT_EMPTY' }
export class AccessListEntryNotFoundError extends AtlasError { override readonly code = 'ATLAS_ACCESS_LIST_ENTRY_NOT_FOUND' }
/**
 * The broker cannot use Atlas until an operator changes something: these never heal by retrying, so the
 * broker must not answer "retry later" for them. `message` is a sentence naming the fix.
 */
export class AtlasAccessError extends AtlasError { override readonly code: string = 'ATLAS_ACCESS' }
/** The credentials were refused (wrong or revoked API key, service account or token). */
export class AtlasAuthError extends AtlasAccessError { override readonly code = 'ATLAS_AUTH' }
/** The caller's IP address is not on the API key's access list (403 IP_ADDRESS_NOT_ON_ACCESS_LIST). */
export class AtlasIpNotAllowedError extends AtlasAccessError {
  override readonly code = 'ATLAS_IP_NOT_ALLOWED'
  /** The address Atlas saw the call come from, when it said. */
  readonly ip: string | undefined
  constructor (message: string, details: AtlasErrorDetails & { ip?: string } = {}) {
    super(message, details)
    this.ip = details.ip
  }
}
/** The credentials are valid but lack a role for this call (403, or 401 USER_UNAUTHORIZED and kin). */
export class AtlasPermissionError extends AtlasAccessError { override readonly code = 'ATLAS_PERMISSION' }
/** Rate limited and the retry budget ran out. */
export class AtlasRateLimitedError extends AtlasError {
  override readonly code = 'ATLAS_RATE_LIMITED'
  /** Atlas's Retry-After, in seconds, when it sent one. */
  readonly retryAfterSeconds: number | undefined
  constructor (message: string, details: AtlasErrorDetails & { retryAfterSeconds?: number } = {}) {
    super(message, details)
    this.retryAfterSeconds = details.retryAfterSeconds
  }
}
/** Atlas refused the request as invalid or over a limit (other 4xx). */
export class AtlasRequestError extends AtlasError { override readonly code = 'ATLAS_REQUEST_REJECTED' }
/** 5xx, timeout or connection failure, after the retries allowed. */
export class AtlasUnavailableError extends AtlasError { override readonly code = 'ATLAS_UNAVAILABLE' }

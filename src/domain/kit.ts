/**
 * What every use case shares: the dependencies, the clock and deadlines, operation records, leases,
 * parameter validation, the policy (through PolicyCalls), and the wait for Atlas to apply user changes.
 */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { AtlasFor, AtlasOrgFor, AtlasPort, AtlasTarget } from '../ports/atlas-port.js'
import type { DatabaseAdminPort } from '../ports/database-admin-port.js'
import type { LoggerPort } from '../ports/logger-port.js'
import type { ParameterValidator } from '../ports/parameter-validator-port.js'
import type { InstanceData, Policy } from '../ports/policy-port.js'
import { type JsonObject, type ProvisionDetails, BadRequestError, BrokerMisconfiguredError, InternalError, ServiceUnavailableError } from '../ports/service-broker.js'
import type { InstanceRecord, NewRecord, OperationKind, OperationRecord, StoragePort } from '../ports/storage-port.js'
import type { BrokerCatalog } from './catalog.js'
import { jsonEqual } from './equality.js'
import { toBrokerError } from './errors.js'
import { PolicyCalls } from './policy-calls.js'

/** Extra time cleanup may take once a call's deadline has passed (see Kit.cleanupDeadline). */
const CLEANUP_GRACE_MS = 3000

export interface BrokerSettings {
  /** Secret behind derived passwords and sealed values (the current one, for new bindings). */
  credentialsSecret: string
  /** Id recorded with each new binding; default `primary`. */
  credentialsKeyId?: string
  /** Earlier secrets by id, so bindings made before a rotation keep their credentials. */
  previousCredentialsSecrets?: Record<string, string>
  /** Cluster used by shared-cluster provisions that name none. */
  defaultCluster?: string
  /** Longest wait for a new database user to reach its cluster (APPLIED) before bind answers. */
  userPropagationTimeoutMs: number
  userPropagationPollMs: number
  /** Total time one OSB call may spend on Atlas, retries and waits included (keep well under 60 s). */
  operationBudgetMs: number
  /** How long an in-progress claim protects a record before another request may take it over. */
  leaseMs: number
  /** Drop an instance's database on deprovision when no other instance uses it (off: databases are kept). */
  dropDatabaseOnDeprovision?: boolean
  /** Retry-After (seconds) sent with last_operation while a cluster operation is in progress. */
  pollRetryAfterSeconds?: number
  /**
   * Where instances' clusters are shown in the Atlas UI: the UI's base URL and the configured project (a
   * record in another project uses its own); absent: no dashboard_url is answered.
   */
  dashboard?: { baseUrl: string, defaultProjectId: string }
  /** Project-per-instance plans: access list entries every instance's project gets (the platform's egress), as CIDR blocks. */
  defaultIpAccessList?: string[]
  /** Whether `ipAccessList` may open a project to everyone (0.0.0.0/0, ::/0). */
  allowOpenAccessList?: boolean
  /** Bind answers carry `endpoints`: always, never, or (auto, the default) unless the platform is Kubernetes. */
  bindingEndpoints?: 'auto' | 'always' | 'never'
}

export interface BrokerDeps {
  catalog: BrokerCatalog
  /** The configured Atlas project. */
  atlas: AtlasPort
  /** Other projects (plans naming `atlas.projectId` or `atlas.credentials`); absent: only the configured one. */
  atlasFor?: AtlasFor
  /** Organisations (project-per-instance plans), by credentials name. */
  atlasOrgFor?: AtlasOrgFor
  storage: StoragePort
  policy: Policy
  validator: ParameterValidator
  logger: LoggerPort
  settings: BrokerSettings
  /** Needed only with `dropDatabaseOnDeprovision`. */
  databaseAdmin?: DatabaseAdminPort
  now?: () => number
}

/** Label that marks an Atlas database user as owned by a binding. */
export const BINDING_LABEL = 'osb-binding-id'
export const INSTANCE_LABEL = 'osb-instance-id'
export const MANAGED_BY_LABEL = 'managed-by'
export const MANAGED_BY = 'atlas-broker'

/** MongoDB database name rules (Atlas): 1–63 bytes, none of / \ . " $ * < > : | ? or whitespace. */
export const DATABASE_NAME = /^[^/\\."$*<>:|?\s]{1,63}$/

/** Atlas label and tag values are 1-255 characters. */
export const DEFAULT_KEY_ID = 'primary'

export function labelValue (id: string): string {
  return id.length <= 255 ? id : id.slice(0, 255)
}

export function describe (err: unknown): string {
  return toBrokerError(err).message
}

export function instanceFacts (instanceId: string, details: ProvisionDetails): InstanceData {
  return {
    instanceId,
    serviceId: details.serviceId,
    planId: details.planId,
    organizationGuid: details.organizationGuid,
    spaceGuid: details.spaceGuid,
    parameters: details.parameters ?? {},
    context: details.context ?? {}
  }
}

export function stringParam (parameters: JsonObject, key: string): string | undefined {
  const value = parameters[key]
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** An instance record for a provision request; `fields` says what kind of record (state, operation, where). */
export function instanceRecord (
  instanceId: string, details: ProvisionDetails,
  fields: Pick<InstanceRecord, 'state' | 'lastOperation' | 'cluster' | 'database'> & { leaseUntil?: string }
): NewRecord<InstanceRecord> {
  return {
    id: instanceId,
    serviceId: details.serviceId,
    planId: details.planId,
    organizationGuid: details.organizationGuid,
    spaceGuid: details.spaceGuid,
    ...(details.context === undefined ? {} : { context: details.context }),
    parameters: details.parameters ?? {},
    ...(details.maintenanceInfo?.version === undefined ? {} : { maintenanceVersion: details.maintenanceInfo.version }),
    ...fields
  }
}

/** MongoDB's database name rules, as a 400 naming the problem. */
export function checkDatabaseName (name: string): void {
  if (!DATABASE_NAME.test(name)) {
    throw new BadRequestError(`database name '${name}' is not valid for MongoDB (1-63 characters, none of / \\ . " $ * < > : | ? or spaces)`)
  }
}

/** Same id, same attributes: OSB's "identical" provision (context is platform metadata and not compared). */
export function sameInstanceRequest (existing: InstanceRecord, details: ProvisionDetails): boolean {
  return existing.serviceId === details.serviceId &&
    existing.planId === details.planId &&
    existing.organizationGuid === details.organizationGuid &&
    existing.spaceGuid === details.spaceGuid &&
    jsonEqual(existing.parameters, details.parameters ?? {})
}

export class Kit {
  readonly now: () => number
  /** How long user changes have taken to reach clusters here (moving average), once one was seen. */
  private typicalPropagationMs: number | undefined
  /** The policy's hooks, results checked and failures classified. */
  readonly policy: PolicyCalls
  private readonly deps: BrokerDeps

  constructor (deps: BrokerDeps) {
    this.deps = deps
    this.now = deps.now ?? Date.now
    const { credentialsSecret, previousCredentialsSecrets } = deps.settings
    this.policy = new PolicyCalls(deps.policy, deps.logger, [credentialsSecret, ...Object.values(previousCredentialsSecrets ?? {})])
  }

  currentKeyId (): string {
    return this.deps.settings.credentialsKeyId ?? DEFAULT_KEY_ID
  }

  /** The secret a binding was made with (bindings from before key ids were recorded used the default id). */
  secretFor (keyId: string | undefined): string {
    const id = keyId ?? DEFAULT_KEY_ID
    if (id === this.currentKeyId()) return this.deps.settings.credentialsSecret
    const secret = this.deps.settings.previousCredentialsSecrets?.[id]
    if (secret === undefined) throw new InternalError(`the credentials secret '${id}' of this binding is not configured (add it to CREDENTIALS_PREVIOUS_SECRETS)`)
    return secret
  }

  /** When the current OSB call must have finished its Atlas work. */
  deadline (): number {
    return this.now() + this.deps.settings.operationBudgetMs
  }

  /**
   * The deadline of cleanup after a failure (undoing a half-made bind, removing a temporary user): the call's
   * own deadline, or a few seconds more if that has passed, so the answer stays well under the platforms'
   * 60 s. Cleanup that does not finish in time is left to the platform's DELETE or the sweep.
   */
  cleanupDeadline (deadline: number): number {
    return Math.max(deadline, this.now() + CLEANUP_GRACE_MS)
  }

  operation (kind: OperationKind, state: OperationRecord['state'], description?: string): OperationRecord {
    const at = new Date(this.now()).toISOString()
    return { id: randomUUID(), kind, state, ...(description === undefined ? {} : { description }), startedAt: at, updatedAt: at }
  }

  leaseUntil (): string {
    return new Date(this.now() + this.deps.settings.leaseMs).toISOString()
  }

  leaseIsLive (record: { leaseUntil?: string }): boolean {
    return record.leaseUntil !== undefined && Date.parse(record.leaseUntil) > this.now()
  }

  validateParameters (schema: JsonObject | undefined, value: JsonObject, what: string): void {
    if (schema === undefined) return
    const problems = this.deps.validator.validate(schema, value)
    if (problems.length > 0) throw new BadRequestError(`invalid ${what}: ${problems.join('; ')}`)
  }


  /** The Atlas project a record (or a plan's target) lives in: the configured one unless it names another. */
  atlasOf (holder: { project?: AtlasTarget | undefined } | undefined): AtlasPort {
    const target = holder?.project
    if (target === undefined) return this.deps.atlas
    if (this.deps.atlasFor === undefined) throw new BrokerMisconfiguredError('a record names an Atlas project, but this broker serves only its configured project')
    return this.deps.atlasFor(target)
  }

  /**
   * Waits (bounded) until Atlas reports the user changes APPLIED on the cluster, so credentials work on return.
   * Polling adapts to how long propagation usually takes here: one check at once (a change may be applied
   * already), the next when the typical propagation time has passed, then checks further and further apart
   * (each interval half again as long), so a slow propagation costs few calls and a typical one about two; the
   * typical time is learnt from the waits that ended (a moving average).
   */
  async waitUntilApplied (atlas: AtlasPort, cluster: string, deadline: number): Promise<void> {
    const { userPropagationTimeoutMs, userPropagationPollMs } = this.deps.settings
    const started = this.now()
    const until = Math.min(deadline, started + userPropagationTimeoutMs)
    let interval = userPropagationPollMs
    let next = started + Math.max(userPropagationPollMs, this.typicalPropagationMs ?? userPropagationPollMs)
    let lastPending: number | undefined
    for (;;) {
      if (await atlas.clusterChangeStatus(cluster, { deadline }) === 'APPLIED') {
        // The change arrived between the last PENDING answer and this one: the middle is the best estimate.
        if (lastPending !== undefined) {
          const took = (lastPending + this.now()) / 2 - started
          this.typicalPropagationMs = this.typicalPropagationMs === undefined ? took : 0.7 * this.typicalPropagationMs + 0.3 * took
        }
        return
      }
      lastPending = this.now()
      if (next > until) next = until
      if (this.now() >= until) {
        throw new ServiceUnavailableError(`the new database user did not reach cluster ${cluster} in time; retry the request`)
      }
      await sleep(Math.max(0, next - this.now()))
      next = this.now() + interval
      interval = Math.round(interval * 1.5)
    }
  }

}

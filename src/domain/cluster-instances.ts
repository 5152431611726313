/**
 * Instances of cluster plans (one Atlas cluster per instance, dedicated or flex): asynchronous provision,
 * update (resize and settings) and deprovision. Progress is pulled from Atlas when the platform polls
 * last_operation (or touches the instance; cluster-progress.ts), so it survives broker restarts and any
 * replica can answer: the operation lives in storage, Atlas holds the truth about the cluster.
 *
 * Consistency: the instance record is claimed before Atlas is called; a definite refusal by Atlas undoes the
 * claim; an ambiguous create failure (timeout, 5xx) keeps the record with a failed operation, so the
 * platform's orphan-mitigation DELETE finds the cluster (if Atlas made it) and deletes it. A failed update
 * looks at the cluster first: if Atlas took the change anyway it goes on as an accepted operation; if the
 * cluster cannot be read either after an ambiguous failure of a resize, it is accepted too and the polls
 * settle it from the tier Atlas reports; otherwise the claim is undone.
 */
import {
  type AccessListEntry, type AtlasCluster, type ClusterChanges, AtlasError, AtlasRateLimitedError, AtlasRequestError,
  AtlasUnavailableError, ClusterNotFoundError, DuplicateClusterNameError, TerminationProtectedError
} from '../ports/atlas-port.js'
import {
  type DeprovisionServiceSpec, type LastOperation, type ProvisionDetails, type ProvisionedInstanceSpec,
  type RequestMeta, type UpdateDetails, type UpdateServiceSpec, AsyncRequiredError, ConcurrencyError,
  InstanceConflictError, UnprocessableError
} from '../ports/service-broker.js'
import { type InstanceRecord, type OperationRecord, RecordExistsError, VersionConflictError } from '../ports/storage-port.js'
import {
  type DedicatedClusterPlanSettings, type ResolvedPlan, clusterPlanSettings, dedicatedSettings, isPlanUpdateable, planTarget
} from './catalog.js'
import { ClusterProgress } from './cluster-progress.js'
import { CHANGEABLE, clusterSpec, effective, isAmbiguous, ownedBy } from './cluster-specs.js'
import { toBrokerError } from './errors.js'
import { InstanceProjects } from './instance-projects.js'
import {
  type BrokerDeps, type Kit, checkDatabaseName, instanceFacts, instanceRecord, sameInstanceRequest, stringParam
} from './kit.js'

export class ClusterInstances {
  private readonly deps: BrokerDeps
  private readonly kit: Kit
  private readonly projects: InstanceProjects
  private readonly progress: ClusterProgress

  constructor (deps: BrokerDeps, kit: Kit) {
    this.deps = deps
    this.kit = kit
    this.projects = new InstanceProjects(deps, kit)
    this.progress = new ClusterProgress(deps, kit, this.projects)
  }

  /** True when the instance belongs to a cluster plan. */
  isClusterInstance (record: { serviceId: string, planId: string }): boolean {
    return this.settingsOf(record) !== undefined
  }

  /** PUT /v2/service_instances/{id} for a cluster plan. */
  async provision (
    instanceId: string, details: ProvisionDetails, resolved: ResolvedPlan, plan: DedicatedClusterPlanSettings,
    asyncAllowed: boolean, meta: RequestMeta
  ): Promise<ProvisionedInstanceSpec> {
    const { storage, logger } = this.deps
    const target = planTarget(plan)
    const existing = await storage.getInstance(instanceId)
    if (existing !== undefined && existing.state !== 'deleted') return await this.answerExisting(existing, details)
    if (!asyncAllowed) {
      throw new AsyncRequiredError(`plan ${resolved.plan.name} creates an Atlas cluster, which takes minutes: send accepts_incomplete=true`)
    }
    const parameters = details.parameters ?? {}
    const facts = instanceFacts(instanceId, details)
    const name = this.kit.policy.clusterName(facts)
    const database = stringParam(parameters, 'database') ?? this.kit.policy.databaseName(facts)
    checkDatabaseName(database)
    const spec = clusterSpec(plan, parameters, name, instanceId)
    const own = plan.projectPerInstance === undefined ? undefined : this.projects.plan(plan.projectPerInstance, facts, parameters)

    const operation = this.kit.operation('provision', 'in progress', own === undefined ? `creating Atlas cluster ${name}` : `creating Atlas project ${own.name} and cluster ${name}`)
    const claim = instanceRecord(instanceId, details, {
      state: 'creating', lastOperation: operation, leaseUntil: this.kit.leaseUntil(), cluster: name, database,
      ...(target === undefined ? {} : { project: target }),
      ...(own === undefined ? {} : { ownProject: own })
    })
    let record: InstanceRecord
    try {
      record = existing === undefined
        ? await storage.createInstance(claim)
        : await storage.updateInstance(instanceId, existing.version, { ...claim })
    } catch (err) {
      if (!(err instanceof RecordExistsError) && !(err instanceof VersionConflictError)) throw err
      const winner = await storage.getInstance(instanceId)
      if (winner === undefined || winner.state === 'deleted') throw new ConcurrencyError('the instance is being changed by another request; retry')
      return await this.answerExisting(winner, details)
    }

    const deadline = this.kit.deadline()
    if (own !== undefined) {
      // The instance's own project first; a failure that made nothing (or made what it could undo) is the
      // answer, an ambiguous one leaves the provision in progress for the next poll to finish.
      try {
        record = await this.projects.ensure(record, deadline)
      } catch (err) {
        const current = await storage.getInstance(instanceId).catch(() => undefined) ?? record
        if (isAmbiguous(err)) {
          await this.settle(current, { leaseUntil: undefined })
          logger.warn({ err, instanceId }, 'creating the instance\'s Atlas project did not finish; the next poll resumes it')
          return { alreadyExists: false, isAsync: true, operation: operation.id }
        }
        await this.abandon(current, this.kit.cleanupDeadline(deadline))
        throw err
      }
    }
    const atlas = this.kit.atlasOf(record)
    try {
      await atlas.createCluster(spec, { deadline })
    } catch (err) {
      if (err instanceof DuplicateClusterNameError) {
        // Ours from an earlier attempt (its tag says so): adopt it. Anybody else's: refuse.
        const found = await atlas.getCluster(name, { deadline }).catch(() => undefined)
        if (found === undefined || !ownedBy(found, instanceId)) {
          await this.abandon(record, this.kit.cleanupDeadline(deadline))
          throw new InstanceConflictError(`an Atlas cluster named ${name} already exists and does not belong to this instance`)
        }
      } else if (err instanceof AtlasRequestError || err instanceof AtlasRateLimitedError || !(err instanceof AtlasUnavailableError)) {
        // Atlas definitely did not create it: nothing to keep (an own project is deleted again).
        await this.abandon(record, this.kit.cleanupDeadline(deadline))
        throw err
      } else {
        // Timeout or 5xx: Atlas may have created it. Keep the record so the platform's DELETE cleans up.
        await this.settle(record, { leaseUntil: undefined, lastOperation: { ...operation, state: 'failed', description: toBrokerError(err).message } })
        throw err
      }
    }
    await this.settle(record, { leaseUntil: undefined })
    logger.info({ instanceId, cluster: name, plan: resolved.plan.name, originatingIdentity: meta.originatingIdentity }, 'cluster creation started')
    return { alreadyExists: false, isAsync: true, operation: operation.id }
  }

  /** PATCH for an instance whose current or target plan is a cluster plan. */
  async update (
    record: InstanceRecord, details: UpdateDetails, current: ResolvedPlan, target: ResolvedPlan, asyncAllowed: boolean
  ): Promise<UpdateServiceSpec> {
    const from = dedicatedSettings(current)
    const to = dedicatedSettings(target)
    if (from === undefined || to === undefined) {
      throw new UnprocessableError(`a change from plan ${current.plan.name} to plan ${target.plan.name} is not supported (shared-cluster and cluster plans do not convert)`)
    }
    const planChange = target.plan.id !== current.plan.id
    if (planChange) {
      if (!isPlanUpdateable(current)) throw new UnprocessableError(`plan ${current.plan.name} cannot be changed to another plan`)
      if (from.clusterKind !== 'dedicated' || to.clusterKind !== 'dedicated') {
        throw new UnprocessableError(`a change from plan ${current.plan.name} to plan ${target.plan.name} is not supported: only dedicated tiers resize into each other`)
      }
    }
    const requested = details.parameters ?? {}
    if (details.parameters !== undefined) {
      this.kit.validateParameters(target.plan.schemas?.service_instance?.update?.parameters, requested, 'parameters')
    }
    const merged = { ...record.parameters, ...requested }
    // An own project's access list changes at once (Atlas applies entries in seconds); AtlasBroker has
    // refused the parameter already where the project is shared.
    const accessList: AccessListEntry[] | undefined = requested.ipAccessList !== undefined && record.ownProject !== undefined
      ? this.projects.desiredAccessList(requested)
      : undefined
    if (accessList !== undefined && record.state === 'ready') {
      record = await this.projects.applyAccessList(record, accessList, this.kit.deadline())
    }
    const changes: ClusterChanges = {}
    if (planChange && to.instanceSize !== undefined) changes.instanceSize = to.instanceSize
    for (const key of CHANGEABLE) {
      if (requested[key] !== undefined && requested[key] !== effective(from, record.parameters, key)) Object.assign(changes, { [key]: requested[key] })
    }

    if (record.state === 'updating' && record.lastOperation.state === 'in progress') {
      const same = record.lastOperation.targetPlanId === target.plan.id && JSON.stringify(record.lastOperation.targetParameters) === JSON.stringify(merged)
      if (same) return { isAsync: true, operation: record.lastOperation.id }
      throw new ConcurrencyError(`instance ${record.id} is being updated`)
    }
    if (record.state !== 'ready') throw new ConcurrencyError(`instance ${record.id} has an operation in progress`)

    const recordChanges: Partial<InstanceRecord> = {}
    if (details.context !== undefined) recordChanges.context = details.context
    if (details.maintenanceInfo?.version !== undefined) recordChanges.maintenanceVersion = details.maintenanceInfo.version

    if (Object.keys(changes).length === 0) {
      // Nothing for Atlas to do: context, maintenance or same-value parameters apply at once.
      await this.deps.storage.updateInstance(record.id, record.version, {
        ...recordChanges, parameters: merged, lastOperation: this.kit.operation('update', 'succeeded')
      }).catch((err: unknown) => {
        if (err instanceof VersionConflictError) throw new ConcurrencyError(`instance ${record.id} was changed by another request; retry`)
        throw err
      })
      return { isAsync: false }
    }
    if (!asyncAllowed) throw new AsyncRequiredError('changing the Atlas cluster takes minutes: send accepts_incomplete=true')

    const operation: OperationRecord = {
      ...this.kit.operation('update', 'in progress', `updating Atlas cluster ${record.cluster}`),
      targetPlanId: target.plan.id,
      targetParameters: merged
    }
    let claimed: InstanceRecord
    try {
      claimed = await this.deps.storage.updateInstance(record.id, record.version, {
        ...recordChanges, state: 'updating', leaseUntil: this.kit.leaseUntil(), lastOperation: operation
      })
    } catch (err) {
      if (err instanceof VersionConflictError) throw new ConcurrencyError(`instance ${record.id} was changed by another request; retry`)
      throw err
    }
    const deadline = this.kit.deadline()
    try {
      await this.kit.atlasOf(record).updateCluster(record.cluster, from.clusterKind, changes, { deadline })
    } catch (err) {
      // Whatever the final error, an earlier attempt (PATCH is retried) may have been applied before its answer
      // was lost, so look, within the cleanup deadline (a timeout may have used up the call's own).
      const applied = err instanceof ClusterNotFoundError ? false : await this.updateWasApplied(record, changes, this.kit.cleanupDeadline(deadline))
      // Accepted when Atlas took the change though its answer was lost (timeout, 5xx), and when neither the
      // answer nor the cluster could be read for a resize: undoing the claim then could leave the record on the
      // old tier while Atlas resizes, so the polls settle it from the tier Atlas reports (one PATCH: the tier
      // shows whether the rest of the change was taken too).
      const unknown = applied === undefined && changes.instanceSize !== undefined && isAmbiguous(err)
      if (applied === true || unknown) {
        this.deps.logger.warn({ instanceId: record.id, cluster: record.cluster }, unknown
          ? 'the cluster update\'s outcome is unknown; the polls will tell from the cluster\'s tier'
          : 'the cluster update\'s answer was lost, but Atlas is applying it')
        await this.settle(claimed, { leaseUntil: undefined })
        return { isAsync: true, operation: operation.id }
      }
      // Nothing was applied (F7): back to the previous state and operation.
      await this.settle(claimed, { state: 'ready', leaseUntil: undefined, lastOperation: record.lastOperation })
      if (err instanceof ClusterNotFoundError) throw new UnprocessableError(`the Atlas cluster ${record.cluster} of this instance no longer exists`, { instanceUsable: false })
      throw err
    }
    await this.settle(claimed, { leaseUntil: undefined })
    return { isAsync: true, operation: operation.id }
  }

  /**
   * After an update failure: did Atlas take the change anyway? Yes if the cluster is UPDATING or already
   * shows every requested value it reports; no if it shows otherwise or is gone; undefined if it cannot be read.
   */
  private async updateWasApplied (record: InstanceRecord, changes: ClusterChanges, deadline: number): Promise<boolean | undefined> {
    let cluster: AtlasCluster
    try {
      cluster = await this.kit.atlasOf(record).getCluster(record.cluster, { deadline })
    } catch (err) {
      return err instanceof ClusterNotFoundError ? false : undefined
    }
    if (cluster.stateName === 'UPDATING') return true
    const visible = (['instanceSize', 'backupEnabled', 'terminationProtectionEnabled'] as const).filter(key => changes[key] !== undefined)
    return visible.length > 0 && visible.length === Object.keys(changes).length && visible.every(key => cluster[key] === changes[key])
  }

  /** DELETE for a cluster-plan instance: revoke its users, then delete its cluster (asynchronously). */
  async deprovision (record: InstanceRecord, asyncAllowed: boolean, revokeBindings: (deadline: number) => Promise<void>): Promise<DeprovisionServiceSpec> {
    const kind = this.settingsOf(record)?.clusterKind ?? 'dedicated'
    if (record.state === 'deleting' && record.lastOperation.kind === 'deprovision' && record.lastOperation.state === 'in progress') {
      // A repeated DELETE: look at Atlas first, so a platform that re-sends DELETE instead of polling sees the end.
      const current = await this.refresh(record)
      if (current.state === 'deleted') return { isAsync: false }
      return { isAsync: true, operation: current.lastOperation.id }
    }
    if (record.state === 'updating' && record.lastOperation.state === 'in progress') throw new ConcurrencyError(`instance ${record.id} is being updated`)
    if (this.kit.leaseIsLive(record)) throw new ConcurrencyError(`instance ${record.id} has an operation in progress`)
    const deadline = this.kit.deadline()
    const cluster = await this.projects.clusterOf(record, deadline)
    if (cluster?.terminationProtectionEnabled === true) {
      throw new UnprocessableError(`Atlas cluster ${record.cluster} has termination protection enabled: update the instance with {"terminationProtectionEnabled": false} first`)
    }
    if (cluster !== undefined && !asyncAllowed) {
      throw new AsyncRequiredError('deleting the Atlas cluster takes minutes: send accepts_incomplete=true')
    }
    const operation = this.kit.operation('deprovision', 'in progress', `deleting Atlas cluster ${record.cluster}`)
    let claimed: InstanceRecord
    try {
      claimed = await this.deps.storage.updateInstance(record.id, record.version, { state: 'deleting', leaseUntil: this.kit.leaseUntil(), lastOperation: operation })
    } catch (err) {
      if (err instanceof VersionConflictError) throw new ConcurrencyError(`instance ${record.id} was changed by another request; retry`)
      throw err
    }
    try {
      await revokeBindings(deadline)
      if (cluster !== undefined) await this.kit.atlasOf(record).deleteCluster(record.cluster, kind, { deadline })
      else if (!await this.projects.remove(claimed, deadline)) {
        // Atlas still counts a cluster in the instance's project: the next poll deletes the project.
        await this.settle(claimed, { leaseUntil: undefined })
        return { isAsync: true, operation: operation.id }
      }
    } catch (err) {
      if (err instanceof ConcurrencyError) {
        // A bind still creating its user: nothing was revoked or deleted; the instance goes back to how it was.
        await this.settle(claimed, { state: record.state, leaseUntil: record.leaseUntil, lastOperation: record.lastOperation })
        throw err
      }
      if (err instanceof TerminationProtectedError) {
        await this.settle(claimed, { state: record.state, leaseUntil: undefined, lastOperation: record.lastOperation })
        throw new UnprocessableError(`Atlas cluster ${record.cluster} has termination protection enabled: update the instance with {"terminationProtectionEnabled": false} first`)
      }
      if (!(err instanceof ClusterNotFoundError) && !(err instanceof AtlasError && err.errorCode === 'CLUSTER_ALREADY_REQUESTED_DELETION')) {
        await this.settle(claimed, { leaseUntil: undefined, lastOperation: { ...operation, state: 'failed', description: toBrokerError(err).message } })
        throw err
      }
    }
    if (cluster === undefined) {
      // No cluster (a failed or halted create): done at once.
      await this.settle(claimed, { state: 'deleted', leaseUntil: undefined, lastOperation: { ...operation, state: 'succeeded', description: 'deleted' } })
      return { isAsync: false }
    }
    await this.settle(claimed, { leaseUntil: undefined })
    return { isAsync: true, operation: operation.id }
  }

  /**
   * Brings an instance with an operation in progress up to date with its Atlas cluster and returns the
   * current record (cluster-progress.ts).
   */
  async refresh (record: InstanceRecord): Promise<InstanceRecord> {
    return await this.progress.refresh(record)
  }

  /** last_operation for a cluster-plan instance: refreshed state plus a polling hint. */
  async lastOperation (record: InstanceRecord): Promise<{ record: InstanceRecord, hint?: Pick<LastOperation, 'retryAfterSeconds'> }> {
    const current = await this.refresh(record)
    if (current.lastOperation.state !== 'in progress') return { record: current }
    return { record: current, hint: { retryAfterSeconds: this.deps.settings.pollRetryAfterSeconds ?? 15 } }
  }

  private async answerExisting (existing: InstanceRecord, details: ProvisionDetails): Promise<ProvisionedInstanceSpec> {
    if (!sameInstanceRequest(existing, details)) throw new InstanceConflictError('an instance with this id already exists with different attributes')
    if (existing.state === 'deleting') throw new ConcurrencyError('the instance is being deleted')
    const current = existing.state === 'creating' ? await this.refresh(existing) : existing
    if (current.state !== 'creating') return { alreadyExists: true, isAsync: false }
    if (current.lastOperation.state === 'failed') {
      throw new UnprocessableError(`the earlier provision of this instance failed (${current.lastOperation.description ?? 'unknown reason'}); delete it first`)
    }
    return { alreadyExists: false, isAsync: true, operation: current.lastOperation.id }
  }

  private settingsOf (record: { serviceId: string, planId: string }): DedicatedClusterPlanSettings | undefined {
    return clusterPlanSettings(this.deps.catalog, record)
  }

  /** Undoes a provision that made nothing that stays: the instance's own project (if any) is deleted, the claim removed. */
  private async abandon (record: InstanceRecord, deadline: number): Promise<void> {
    if (record.ownProject !== undefined) {
      await this.projects.remove(record, deadline).catch((err: unknown) => {
        this.deps.logger.warn({ err, instanceId: record.id }, 'could not delete the Atlas project of a refused provision; sweep finds it')
      })
    }
    await this.forget(record)
  }

  /** Removes a claim whose Atlas side effect did not happen. */
  private async forget (record: InstanceRecord): Promise<void> {
    await this.deps.storage.deleteInstance(record.id, record.version).catch((err: unknown) => {
      this.deps.logger.warn({ err, instanceId: record.id }, 'could not remove the claim of a refused provision')
    })
  }

  /** Conditional update that, after a conflict, leaves the newer record alone. */
  private async settle (record: InstanceRecord, changes: Partial<InstanceRecord>): Promise<void> {
    await this.deps.storage.updateInstance(record.id, record.version, changes).catch((err: unknown) => {
      if (!(err instanceof VersionConflictError)) this.deps.logger.warn({ err, instanceId: record.id }, 'could not record the operation state')
    })
  }
}

/**
 * The broker's use cases: the ServiceBroker port implemented over AtlasPort, StoragePort and the policy.
 *
 * Consistency rules every method keeps:
 * - a 4xx changes nothing (all checks run before the first write);
 * - a record is claimed in storage (atomic create-if-absent, or a conditional update) before Atlas is
 *   touched, so concurrent identical requests cause one Atlas side effect;
 * - when Atlas or storage fails half-way, the broker undoes what it did, and whatever it could not undo is
 *   left in a state that the platform's retry (or DELETE) finishes.
 */
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  type AtlasCluster, type ConnectionStrings, AtlasError, AtlasRateLimitedError, AtlasUnavailableError, ClusterNotFoundError,
  DatabaseUserExistsError, DatabaseUserNotFoundError
} from '../ports/atlas-port.js'
import {
  type BindDetails, type BindingSpec, type Catalog, type DeprovisionDetails, type DeprovisionServiceSpec,
  type FetchBindingDetails, type FetchedBindingSpec, type FetchInstanceDetails, type InstanceSpec, type JsonObject,
  type LastOperation, type MaintenanceInfo, type PollDetails, type ProvisionDetails, type ProvisionedInstanceSpec,
  type RequestMeta, type ServiceBroker, type UnbindDetails, type UnbindSpec, type UpdateDetails, type UpdateServiceSpec,
  BadRequestError, BindingConflictError, BindingGoneError, BindingNotFoundError, ConcurrencyError, InstanceConflictError,
  InstanceGoneError, InstanceNotFoundError, InternalError, MaintenanceInfoConflictError, ServiceUnavailableError, UnprocessableError
} from '../ports/service-broker.js'
import {
  type BindingRecord, type InstanceRecord, type NewRecord, type OperationKind, type OperationRecord,
  RecordExistsError, VersionConflictError
} from '../ports/storage-port.js'
import {
  type BrokerCatalog, type ResolvedPlan, dedicatedSettings, isBindable, isPlanUpdateable, resolvePlan, servedCatalog
} from './catalog.js'
import { ClusterInstances } from './cluster-instances.js'
import { connectionUri, derivePassword, endpointsOf, seal, unseal } from './credentials.js'
import { jsonEqual } from './equality.js'
import { toBrokerError } from './errors.js'
import { type BindingData } from './policy-calls.js'
import {
  type BrokerDeps, BINDING_LABEL, checkDatabaseName, describe, INSTANCE_LABEL, instanceFacts, instanceRecord, Kit, labelValue, MANAGED_BY, MANAGED_BY_LABEL,
  sameInstanceRequest, stringParam
} from './kit.js'

export { type BrokerDeps, type BrokerSettings, BINDING_LABEL, INSTANCE_LABEL } from './kit.js'

export class AtlasBroker implements ServiceBroker {
  private readonly deps: BrokerDeps
  private readonly kit: Kit
  private readonly clusters: ClusterInstances

  constructor (deps: BrokerDeps) {
    this.deps = deps
    this.kit = new Kit(deps)
    this.clusters = new ClusterInstances(deps, this.kit)
  }

  catalog (): Catalog {
    return servedCatalog(this.deps.catalog)
  }

  // ---------------------------------------------------------------------------------------------
  // Instances

  async provision (instanceId: string, details: ProvisionDetails, asyncAllowed: boolean, meta: RequestMeta): Promise<ProvisionedInstanceSpec> {
    return this.guard(async () => {
      const resolved = resolvePlan(this.deps.catalog, details.serviceId, details.planId)
      checkMaintenanceInfo(resolved, details.maintenanceInfo)
      const parameters = details.parameters ?? {}
      this.kit.validateParameters(resolved.plan.schemas?.service_instance?.create?.parameters, parameters, 'parameters')
      const clusterPlan = dedicatedSettings(resolved)
      if (clusterPlan !== undefined) return await this.clusters.provision(instanceId, details, resolved, clusterPlan, asyncAllowed, meta)

      const existing = await this.deps.storage.getInstance(instanceId)
      if (existing !== undefined && existing.state !== 'deleted') return answerExistingInstance(existing, details)

      const clusterName = stringParam(parameters, 'cluster') ?? this.deps.settings.defaultCluster
      if (clusterName === undefined) {
        throw new BadRequestError("parameter 'cluster' is required: name an existing cluster of the Atlas project")
      }
      const deadline = this.kit.deadline()
      await this.requireCluster(clusterName, deadline)
      const facts = instanceFacts(instanceId, details)
      const database = stringParam(parameters, 'database') ?? this.kit.policy.databaseName(facts)
      checkDatabaseName(database)
      const record = instanceRecord(instanceId, details, {
        state: 'ready', lastOperation: this.kit.operation('provision', 'succeeded'), cluster: clusterName, database
      })
      try {
        if (existing === undefined) {
          await this.deps.storage.createInstance(record)
        } else {
          // The id belonged to a deleted instance: its tombstone is replaced, if nobody else did first.
          await this.deps.storage.updateInstance(instanceId, existing.version, { ...record, leaseUntil: undefined })
        }
      } catch (err) {
        if (!(err instanceof RecordExistsError) && !(err instanceof VersionConflictError)) throw err
        const winner = await this.deps.storage.getInstance(instanceId)
        if (winner === undefined || winner.state === 'deleted') throw new ConcurrencyError('instance is being changed by another request; retry')
        return answerExistingInstance(winner, details)
      }
      this.deps.logger.info({ instanceId, cluster: clusterName, database, originatingIdentity: meta.originatingIdentity }, 'instance provisioned')
      return { alreadyExists: false, isAsync: false }
    })
  }

  async update (instanceId: string, details: UpdateDetails, asyncAllowed: boolean, meta: RequestMeta): Promise<UpdateServiceSpec> {
    return this.guard(async () => {
      const record = await this.deps.storage.getInstance(instanceId)
      if (record === undefined || record.state === 'deleted') throw new InstanceNotFoundError(`instance ${instanceId} does not exist`)
      if (details.serviceId !== record.serviceId) {
        throw new BadRequestError(`service_id ${details.serviceId} is not the service of instance ${instanceId}`)
      }
      const targetPlanId = details.planId ?? record.planId
      const target = resolvePlan(this.deps.catalog, details.serviceId, targetPlanId)
      const currentPlan = resolvePlanOrUndefined(this.deps.catalog, record.serviceId, record.planId)
      if (currentPlan !== undefined && (dedicatedSettings(currentPlan) !== undefined || dedicatedSettings(target) !== undefined)) {
        checkMaintenanceInfo(target, details.maintenanceInfo)
        const spec = await this.clusters.update(record, details, currentPlan, target, asyncAllowed)
        this.deps.logger.info({ instanceId, async: spec.isAsync, originatingIdentity: meta.originatingIdentity }, 'instance update accepted')
        return spec
      }
      if (targetPlanId !== record.planId) {
        const current = resolvePlan(this.deps.catalog, record.serviceId, record.planId)
        if (!isPlanUpdateable(current)) {
          throw new UnprocessableError(`plan ${current.plan.name} cannot be changed to another plan (plan_updateable is false)`)
        }
        throw new UnprocessableError(`a change from plan ${current.plan.name} to plan ${target.plan.name} is not supported`)
      }
      checkMaintenanceInfo(target, details.maintenanceInfo)
      if (record.state !== 'ready') throw new ConcurrencyError(`instance ${instanceId} has an operation in progress`)

      const changes: Partial<InstanceRecord> = {}
      if (details.parameters !== undefined) {
        const schema = target.plan.schemas?.service_instance?.update?.parameters
        this.kit.validateParameters(schema, details.parameters, 'parameters')
        const merged = { ...record.parameters, ...details.parameters }
        for (const [key, current] of [['cluster', record.cluster], ['database', record.database]] as const) {
          const wanted = stringParam(merged, key)
          if (wanted !== undefined && wanted !== current) {
            throw new UnprocessableError(`parameter '${key}' cannot be changed on plan ${target.plan.name} (it is '${current}')`)
          }
        }
        changes.parameters = merged
      }
      if (details.context !== undefined) changes.context = details.context
      if (details.maintenanceInfo?.version !== undefined) changes.maintenanceVersion = details.maintenanceInfo.version
      try {
        await this.deps.storage.updateInstance(instanceId, record.version, {
          ...changes, lastOperation: this.kit.operation('update', 'succeeded')
        })
      } catch (err) {
        if (err instanceof VersionConflictError) throw new ConcurrencyError(`instance ${instanceId} was changed by another request; retry`)
        throw err
      }
      this.deps.logger.info({ instanceId, changed: Object.keys(changes), originatingIdentity: meta.originatingIdentity }, 'instance updated')
      return { isAsync: false }
    })
  }

  async deprovision (instanceId: string, details: DeprovisionDetails, asyncAllowed: boolean, meta: RequestMeta): Promise<DeprovisionServiceSpec> {
    return this.guard(async () => {
      const record = await this.deps.storage.getInstance(instanceId)
      if (record === undefined || record.state === 'deleted') throw new InstanceGoneError(`instance ${instanceId} does not exist`)
      if (details.serviceId !== record.serviceId) {
        throw new BadRequestError(`service_id ${details.serviceId} is not the service of instance ${instanceId}`)
      }
      resolvePlan(this.deps.catalog, details.serviceId, details.planId)
      if (this.clusters.isClusterInstance(record)) {
        const spec = await this.clusters.deprovision(record, asyncAllowed, deadline => this.revokeAll(instanceId, deadline))
        this.deps.logger.info({ instanceId, async: spec.isAsync, originatingIdentity: meta.originatingIdentity }, 'instance deletion accepted')
        return spec
      }
      const claimed = await this.claimInstance(record, 'deprovision')
      const deadline = this.kit.deadline()
      try {
        await this.revokeAll(instanceId, deadline)
        if (this.deps.settings.dropDatabaseOnDeprovision === true) await this.dropDatabaseIfUnused(claimed, deadline)
        await this.deps.storage.updateInstance(instanceId, claimed.version, {
          state: 'deleted', leaseUntil: undefined, lastOperation: this.kit.operation('deprovision', 'succeeded')
        })
      } catch (err) {
        // A bind in progress: nothing was revoked, so the instance goes back to how it was; the platform retries.
        if (err instanceof BindInProgressError) await this.restoreInstance(claimed, record)
        else await this.releaseInstance(instanceId, 'deprovision', err)
        throw err
      }
      this.deps.logger.info({ instanceId, originatingIdentity: meta.originatingIdentity }, 'instance deprovisioned')
      return { isAsync: false }
    })
  }

  async lastOperation (instanceId: string, _details: PollDetails): Promise<LastOperation> {
    return this.guard(async () => {
      const record = await this.deps.storage.getInstance(instanceId)
      if (record === undefined) throw new InstanceNotFoundError(`instance ${instanceId} does not exist`)
      if (!this.clusters.isClusterInstance(record)) return lastOperationOf(record.lastOperation)
      const { record: current, hint } = await this.clusters.lastOperation(record)
      return { ...lastOperationOf(current.lastOperation), ...hint }
    })
  }

  async getInstance (instanceId: string, _details: FetchInstanceDetails): Promise<InstanceSpec> {
    return this.guard(async () => {
      const record = await this.currentInstance(instanceId)
      if (record === undefined || record.state === 'deleted' || record.state === 'creating') {
        throw new InstanceNotFoundError(`instance ${instanceId} does not exist`)
      }
      if (record.state === 'updating') throw new ConcurrencyError(`instance ${instanceId} is being updated`)
      const spec: InstanceSpec = { serviceId: record.serviceId, planId: record.planId, parameters: record.parameters }
      const plan = resolvePlanOrUndefined(this.deps.catalog, record.serviceId, record.planId)
      if (plan?.plan.maintenance_info !== undefined) spec.maintenanceInfo = plan.plan.maintenance_info
      return spec
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Bindings

  async bind (instanceId: string, bindingId: string, details: BindDetails, _asyncAllowed: boolean, meta: RequestMeta): Promise<BindingSpec> {
    return this.guard(async () => {
      const instance = await this.currentInstance(instanceId)
      if (instance === undefined || instance.state === 'deleted') throw new InstanceNotFoundError(`instance ${instanceId} does not exist`)
      if (details.serviceId !== instance.serviceId) {
        throw new BadRequestError(`service_id ${details.serviceId} is not the service of instance ${instanceId}`)
      }
      const resolved = resolvePlan(this.deps.catalog, details.serviceId, details.planId)
      // During a resize the platform already holds the target plan: both it and the previous plan are accepted.
      const resizingTo = instance.state === 'updating' ? instance.lastOperation.targetPlanId : undefined
      if (details.planId !== instance.planId && details.planId !== resizingTo) {
        throw new BadRequestError(`plan_id ${details.planId} is not the plan of instance ${instanceId}`)
      }
      if (!isBindable(resolved)) throw new BadRequestError(`plan ${resolved.plan.name} is not bindable`)
      const parameters = details.parameters ?? {}
      this.kit.validateParameters(resolved.plan.schemas?.service_binding?.create?.parameters, parameters, 'parameters')
      // A cluster stays usable while Atlas resizes it; before it exists there is nothing to bind to.
      const usable = instance.state === 'ready' || (instance.state === 'updating' && this.clusters.isClusterInstance(instance))
      if (!usable) {
        throw new ConcurrencyError(instance.state === 'creating'
          ? `instance ${instanceId} is still being provisioned; bind once its last_operation says succeeded`
          : `instance ${instanceId} has an operation in progress`)
      }

      const deadline = this.kit.deadline()
      const facts = bindingFacts(instance, bindingId, details)
      for (;;) {
        const existing = await this.deps.storage.getBinding(bindingId)
        if (existing !== undefined && existing.state !== 'deleted') {
          if (existing.instanceId !== instanceId || !sameBinding(existing, details)) {
            throw new BindingConflictError(`binding ${bindingId} already exists with different attributes`)
          }
          if (existing.state === 'ready') return await this.bindingSpec(existing, facts, deadline)
          if (existing.state === 'deleting') throw new ConcurrencyError(`binding ${bindingId} is being deleted`)
          if (this.kit.leaseIsLive(existing)) {
            if (this.kit.now() + 250 > deadline) throw new ConcurrencyError(`binding ${bindingId} is being created by another request`)
            await sleep(100)
            continue
          }
          return await this.createBindingUser(instance, facts, details, existing, deadline, meta)
        }
        return await this.createBindingUser(instance, facts, details, existing, deadline, meta)
      }
    })
  }

  async unbind (instanceId: string, bindingId: string, details: UnbindDetails, _asyncAllowed: boolean, meta: RequestMeta): Promise<UnbindSpec> {
    return this.guard(async () => {
      const binding = await this.deps.storage.getBinding(bindingId)
      if (binding === undefined || binding.state === 'deleted' || binding.instanceId !== instanceId) {
        throw new BindingGoneError(`binding ${bindingId} does not exist`)
      }
      if (details.serviceId !== binding.serviceId) {
        throw new BadRequestError(`service_id ${details.serviceId} is not the service of binding ${bindingId}`)
      }
      if (binding.state === 'creating' && this.kit.leaseIsLive(binding)) {
        throw new ConcurrencyError(`binding ${bindingId} is being created; retry`)
      }
      await this.revokeBinding(binding, this.kit.deadline())
      this.deps.logger.info({ instanceId, bindingId, originatingIdentity: meta.originatingIdentity }, 'binding deleted')
      return { isAsync: false }
    })
  }

  async lastBindingOperation (instanceId: string, bindingId: string, _details: PollDetails): Promise<LastOperation> {
    return this.guard(async () => {
      const binding = await this.deps.storage.getBinding(bindingId)
      if (binding === undefined || binding.instanceId !== instanceId) throw new BindingNotFoundError(`binding ${bindingId} does not exist`)
      return lastOperationOf(binding.lastOperation)
    })
  }

  async getBinding (instanceId: string, bindingId: string, _details: FetchBindingDetails): Promise<FetchedBindingSpec> {
    return this.guard(async () => {
      const binding = await this.deps.storage.getBinding(bindingId)
      if (binding === undefined || binding.instanceId !== instanceId || binding.state !== 'ready') {
        throw new BindingNotFoundError(`binding ${bindingId} does not exist`)
      }
      const instance = await this.deps.storage.getInstance(instanceId)
      if (instance === undefined || instance.state === 'deleted') throw new BindingNotFoundError(`binding ${bindingId} does not exist`)
      const details: BindDetails = {
        serviceId: binding.serviceId, planId: binding.planId, parameters: binding.parameters, ...(binding.context === undefined ? {} : { context: binding.context })
      }
      const spec = await this.bindingSpec(binding, bindingFacts(instance, bindingId, details), this.kit.deadline())
      const fetched: FetchedBindingSpec = { parameters: binding.parameters }
      if (spec.credentials !== undefined) fetched.credentials = spec.credentials
      if (spec.endpoints !== undefined) fetched.endpoints = spec.endpoints
      return fetched
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Binding internals

  /** Claims the binding record, creates (or adopts) its Atlas user, waits until it can log in, marks it ready. */
  private async createBindingUser (
    instance: InstanceRecord, facts: BindingData, details: BindDetails, stale: BindingRecord | undefined,
    deadline: number, meta: RequestMeta
  ): Promise<BindingSpec> {
    const { settings } = this.deps
    const username = this.kit.policy.username(facts)
    const roles = this.kit.policy.roles(facts)
    // A takeover keeps the key its claim was made with; a new binding takes the current one.
    const keyId = stale?.keyId ?? this.kit.currentKeyId()
    const secret = this.kit.secretFor(keyId)
    const password = stale?.sealedPassword !== undefined
      ? unseal(secret, stale.sealedPassword)
      : this.kit.policy.password(facts, purpose => derivePassword(secret, facts.bindingId, purpose))

    const claim: NewRecord<BindingRecord> = {
      id: facts.bindingId,
      state: 'creating',
      lastOperation: this.kit.operation('bind', 'in progress'),
      leaseUntil: new Date(this.kit.now() + settings.leaseMs).toISOString(),
      instanceId: instance.id,
      serviceId: details.serviceId,
      planId: details.planId,
      parameters: details.parameters ?? {},
      ...(details.appGuid === undefined ? {} : { appGuid: details.appGuid }),
      ...(details.bindResource === undefined ? {} : { bindResource: details.bindResource }),
      ...(details.context === undefined ? {} : { context: details.context }),
      username,
      roles,
      cluster: instance.cluster,
      database: instance.database,
      keyId,
      ...(this.kit.policy.predictableCredentials ? {} : { sealedPassword: seal(secret, password) })
    }
    let record: BindingRecord
    try {
      record = stale === undefined
        ? await this.deps.storage.createBinding(claim)
        : await this.deps.storage.updateBinding(claim.id, stale.version, claim)
    } catch (err) {
      // Another request claimed it first: the caller's loop re-reads and waits for (or answers with) its result.
      if (err instanceof RecordExistsError || err instanceof VersionConflictError) {
        return await this.bind(instance.id, facts.bindingId, details, false, meta)
      }
      throw err
    }

    // Whether this binding's user may exist in Atlas: an attempt taken over may have created it already.
    const attempt = { userMayExist: stale !== undefined }
    let spec: BindingSpec
    try {
      // The instance is read again after the claim: a deprovision claims the instance, then looks for binding
      // claims, so one of the two always sees the other (see deprovision).
      await this.requireUsableInstance(instance.id)
      await this.ensureDatabaseUser(record, password, deadline, attempt)
      await this.kit.waitUntilApplied(record.cluster, deadline)
      // The answer (credentials hook included) is built before the binding is marked ready: a hook that fails
      // leaves no ready binding and no user.
      const connection = await this.connectionStringsOf(record, deadline)
      spec = this.bindingAnswer(record, facts, connection, password, false)
      record = await this.deps.storage.updateBinding(record.id, record.version, {
        state: 'ready', leaseUntil: undefined, lastOperation: this.kit.operation('bind', 'succeeded'), connectionStrings: connection
      })
    } catch (err) {
      // A user owned by something else (BindingConflictError) is never ours to delete.
      await this.undoBinding(record, attempt.userMayExist && !(err instanceof BindingConflictError), err, deadline)
      throw err
    }
    this.deps.logger.info({
      instanceId: instance.id, bindingId: record.id, username, originatingIdentity: meta.originatingIdentity
    }, 'binding created')
    return spec
  }

  /** After a binding claim: the instance must still be there and usable (not being deleted). */
  private async requireUsableInstance (instanceId: string): Promise<void> {
    const now = await this.deps.storage.getInstance(instanceId)
    if (now === undefined || now.state === 'deleted' || now.state === 'deleting') {
      throw new ConcurrencyError(`instance ${instanceId} is being deleted`)
    }
  }

  /**
   * Creates the binding's Atlas user. A user of that name that this binding owns (an earlier attempt)
   * is adopted and brought up to date; one owned by anything else is a conflict. Sets `attempt.userMayExist`
   * once the user exists, or may: a create that failed with AtlasUnavailableError (timeout, 5xx) may have been
   * applied with its answer lost; any other error from Atlas means it made nothing (see AtlasPort).
   */
  private async ensureDatabaseUser (record: BindingRecord, password: string, deadline: number, attempt: { userMayExist: boolean }): Promise<void> {
    const labels = [
      { key: BINDING_LABEL, value: labelValue(record.id) },
      { key: INSTANCE_LABEL, value: labelValue(record.instanceId) },
      { key: MANAGED_BY_LABEL, value: MANAGED_BY }
    ]
    const spec = { username: record.username, password, roles: record.roles, scopes: [record.cluster], labels }
    try {
      await this.deps.atlas.createDatabaseUser({ ...spec, description: 'Open Service Broker binding' }, { deadline })
      attempt.userMayExist = true
      return
    } catch (err) {
      if (!(err instanceof DatabaseUserExistsError)) {
        if (!(err instanceof AtlasError) || err instanceof AtlasUnavailableError) attempt.userMayExist = true
        throw err
      }
    }
    const current = await this.deps.atlas.getDatabaseUser(record.username, { deadline })
    const owner = current.labels.find(label => label.key === BINDING_LABEL)?.value
    if (owner !== labelValue(record.id)) {
      throw new BindingConflictError(`Atlas database user '${record.username}' already exists and belongs to another binding or to no binding`)
    }
    attempt.userMayExist = true
    await this.deps.atlas.updateDatabaseUser(record.username, { password, roles: spec.roles, scopes: spec.scopes, labels }, { deadline })
  }


  /**
   * After a failed bind: deletes the binding's user (when one may exist; not found counts as gone) and the
   * claim, so nothing half-made stays. If the user cannot be deleted now, the record stays, marked failed
   * and unlocked, so the platform's DELETE (orphan mitigation) finds and removes the user. Only what is still
   * this attempt's is removed: when another request has since taken the claim over (its lease ran out), the
   * user and the record are that request's now, and are left alone.
   */
  private async undoBinding (record: BindingRecord, userMayExist: boolean, cause: unknown, deadline: number): Promise<void> {
    const { logger } = this.deps
    const now = await this.deps.storage.getBinding(record.id).catch(() => record)
    if (now !== undefined && now.version !== record.version && now.state !== 'deleted') {
      logger.warn({ bindingId: record.id }, 'a failed bind was taken over by another request; leaving its user and record to it')
      return
    }
    let userGone = !userMayExist
    if (userMayExist) {
      try {
        await this.deps.atlas.deleteDatabaseUser(record.username, { deadline: this.kit.cleanupDeadline(deadline) })
        userGone = true
      } catch (err) {
        userGone = err instanceof DatabaseUserNotFoundError
        if (!userGone) logger.warn({ err, bindingId: record.id }, 'could not delete the user of a failed bind; the platform DELETE will')
      }
    }
    if (now === undefined || now.version !== record.version) return
    try {
      if (userGone) {
        await this.deps.storage.deleteBinding(record.id, record.version)
      } else {
        // Keep the record so that the platform's DELETE (orphan mitigation) finds and removes the user.
        await this.deps.storage.updateBinding(record.id, record.version, {
          leaseUntil: undefined, lastOperation: this.kit.operation('bind', 'failed', describe(cause))
        })
      }
    } catch (err) {
      logger.warn({ err, bindingId: record.id }, 'could not clean up the record of a failed bind; a retry or DELETE will')
    }
  }

  /** Deletes the binding's Atlas user (already gone counts as done) and leaves a tombstone. */
  private async revokeBinding (binding: BindingRecord, deadline: number): Promise<void> {
    try {
      await this.deps.atlas.deleteDatabaseUser(binding.username, { deadline })
    } catch (err) {
      if (!(err instanceof DatabaseUserNotFoundError)) throw err
    }
    try {
      await this.deps.storage.updateBinding(binding.id, binding.version, {
        state: 'deleted', leaseUntil: undefined, sealedPassword: undefined, lastOperation: this.kit.operation('unbind', 'succeeded')
      })
    } catch (err) {
      if (!(err instanceof VersionConflictError)) throw err
      const now = await this.deps.storage.getBinding(binding.id)
      if (now !== undefined && now.state !== 'deleted') throw new ConcurrencyError(`binding ${binding.id} changed during the delete; retry`)
    }
  }

  /** The answer to a repeated bind or a fetch: the stored binding's credentials, with the cluster's connection strings. */
  private async bindingSpec (record: BindingRecord, facts: BindingData, deadline: number): Promise<BindingSpec> {
    const secret = this.kit.secretFor(record.keyId)
    const password = record.sealedPassword !== undefined
      ? unseal(secret, record.sealedPassword)
      : this.kit.policy.password(facts, purpose => derivePassword(secret, facts.bindingId, purpose))
    return this.bindingAnswer(record, facts, await this.connectionStringsOf(record, deadline), password, true)
  }

  /**
   * The cluster's connection strings from Atlas; while Atlas cannot be reached, the ones recorded at bind time,
   * so fetches and repeated binds keep working through an Atlas outage.
   */
  private async connectionStringsOf (record: BindingRecord, deadline: number): Promise<ConnectionStrings> {
    try {
      return (await this.deps.atlas.getCluster(record.cluster, { deadline })).connectionStrings
    } catch (err) {
      if (err instanceof ClusterNotFoundError) {
        throw new UnprocessableError(`cluster ${record.cluster} of this instance no longer exists in the Atlas project`)
      }
      const transient = err instanceof AtlasUnavailableError || err instanceof AtlasRateLimitedError
      if (transient && record.connectionStrings !== undefined) return record.connectionStrings
      throw err
    }
  }

  private bindingAnswer (
    record: BindingRecord, facts: BindingData, connection: ConnectionStrings, password: string, alreadyExists: boolean
  ): BindingSpec {
    const { standard, standardSrv } = connection
    const uri = connectionUri(standardSrv, record.username, password, record.database) ??
      connectionUri(standard, record.username, password, record.database)
    const base: JsonObject = {
      username: record.username,
      password,
      database: record.database,
      authSource: 'admin',
      cluster: record.cluster,
      ...(uri === undefined ? {} : { uri }),
      connectionStrings: {
        ...(standard === undefined ? {} : { standard }),
        ...(standardSrv === undefined ? {} : { standardSrv })
      }
    }
    const credentials = this.kit.policy.credentials(facts, record.username, password, base)
    const endpoints = this.sendsEndpoints(facts.context) ? endpointsOf(standard) : undefined
    return { alreadyExists, isAsync: false, credentials, ...(endpoints === undefined ? {} : { endpoints }) }
  }

  /**
   * Whether bind answers carry `endpoints`. `auto` leaves them out for Kubernetes platforms: the Service
   * Catalog's Go client decodes the spec's string ports as integers and fails on the whole answer.
   */
  private sendsEndpoints (context: JsonObject): boolean {
    const mode = this.deps.settings.bindingEndpoints ?? 'auto'
    return mode === 'always' || (mode === 'auto' && context.platform !== 'kubernetes')
  }

  /**
   * Drops the instance's database unless another live instance uses it. The Admin API cannot drop databases,
   * so a temporary dbAdmin user (scoped to the cluster, derived password) does it and is deleted afterwards.
   */
  private async dropDatabaseIfUnused (instance: InstanceRecord, deadline: number): Promise<void> {
    const { atlas, logger, settings, databaseAdmin } = this.deps
    const sharing = (await this.deps.storage.listInstancesUsingDatabase(instance.cluster, instance.database)).filter(i => i.id !== instance.id)
    if (sharing.length > 0) {
      logger.info({ instanceId: instance.id, database: instance.database, sharedWith: sharing.length }, 'database kept: other instances use it')
      return
    }
    if (databaseAdmin === undefined) throw new InternalError('dropping databases is enabled but no database adapter is configured')
    const username = `osb-drop-${createHash('sha256').update(instance.id).digest('hex').slice(0, 24)}`
    const password = derivePassword(settings.credentialsSecret, instance.id, 'drop-database')
    const roles = [{ roleName: 'dbAdmin', databaseName: instance.database }]
    const labels = [{ key: INSTANCE_LABEL, value: labelValue(instance.id) }, { key: MANAGED_BY_LABEL, value: MANAGED_BY }]
    try {
      await atlas.createDatabaseUser({ username, password, roles, scopes: [instance.cluster], labels, description: 'temporary: drops a deprovisioned database' }, { deadline })
    } catch (err) {
      if (!(err instanceof DatabaseUserExistsError)) throw err
      await atlas.updateDatabaseUser(username, { password, roles, scopes: [instance.cluster], labels }, { deadline })
    }
    try {
      await this.kit.waitUntilApplied(instance.cluster, deadline)
      const cluster = await atlas.getCluster(instance.cluster, { deadline })
      const uri = connectionUri(cluster.connectionStrings.standardSrv, username, password, instance.database) ??
        connectionUri(cluster.connectionStrings.standard, username, password, instance.database)
      if (uri === undefined) throw new ServiceUnavailableError(`cluster ${instance.cluster} has no connection string yet`)
      await databaseAdmin.dropDatabase(uri, instance.database, { deadline })
      logger.info({ instanceId: instance.id, cluster: instance.cluster, database: instance.database }, 'database dropped')
    } finally {
      await atlas.deleteDatabaseUser(username, { deadline: this.kit.cleanupDeadline(deadline) }).catch((err: unknown) => {
        if (!(err instanceof DatabaseUserNotFoundError)) logger.warn({ err, instanceId: instance.id }, 'could not delete the temporary drop user')
      })
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Shared internals

  private async guard<T> (work: () => Promise<T>): Promise<T> {
    try {
      return await work()
    } catch (err) {
      throw toBrokerError(err)
    }
  }




  /** The instance record, brought up to date with Atlas when a cluster operation is in progress. */
  private async currentInstance (instanceId: string): Promise<InstanceRecord | undefined> {
    const record = await this.deps.storage.getInstance(instanceId)
    if (record === undefined || !this.clusters.isClusterInstance(record)) return record
    return await this.clusters.refresh(record)
  }

  /**
   * Revokes every live binding of the instance (their Atlas users deleted, tombstones left). Called once the
   * instance is claimed for deletion; a bind still creating its user (a live claim) makes it a ConcurrencyError,
   * since that bind may create its user after the revoke. Binds re-read the instance after claiming, so a bind
   * claimed after this check sees the deletion and gives up.
   */
  private async revokeAll (instanceId: string, deadline: number): Promise<void> {
    const bindings = await this.deps.storage.listBindings(instanceId)
    const creating = bindings.find(b => b.state === 'creating' && this.kit.leaseIsLive(b))
    if (creating !== undefined) throw new BindInProgressError(`binding ${creating.id} of instance ${instanceId} is being created; retry the delete`)
    for (const binding of bindings) await this.revokeBinding(binding, deadline)
  }

  /** Marks an instance as being deleted, unless another request holds it (ConcurrencyError). */
  private async claimInstance (record: InstanceRecord, kind: OperationKind): Promise<InstanceRecord> {
    if (record.state !== 'ready' && this.kit.leaseIsLive(record)) {
      throw new ConcurrencyError(`instance ${record.id} has an operation in progress`)
    }
    try {
      return await this.deps.storage.updateInstance(record.id, record.version, {
        state: 'deleting',
        leaseUntil: new Date(this.kit.now() + this.deps.settings.leaseMs).toISOString(),
        lastOperation: this.kit.operation(kind, 'in progress')
      })
    } catch (err) {
      if (err instanceof VersionConflictError) throw new ConcurrencyError(`instance ${record.id} was changed by another request; retry`)
      throw err
    }
  }

  /** Undoes a deletion claim that did nothing (`before` is the record as it was claimed). */
  private async restoreInstance (claimed: InstanceRecord, before: InstanceRecord): Promise<void> {
    await this.deps.storage.updateInstance(claimed.id, claimed.version, {
      state: before.state, leaseUntil: before.leaseUntil, lastOperation: before.lastOperation
    }).catch((err: unknown) => { this.deps.logger.warn({ err, instanceId: claimed.id }, 'could not restore an instance after a refused delete') })
  }

  /** After a failed deprovision: the instance stays `deleting`, unlocked, so the platform's retry goes on. */
  private async releaseInstance (instanceId: string, kind: OperationKind, cause: unknown): Promise<void> {
    try {
      const now = await this.deps.storage.getInstance(instanceId)
      if (now === undefined) return
      await this.deps.storage.updateInstance(instanceId, now.version, {
        leaseUntil: undefined, lastOperation: this.kit.operation(kind, 'failed', describe(cause))
      })
    } catch (err) {
      this.deps.logger.warn({ err, instanceId }, 'could not release the instance after a failed operation; its lease will expire')
    }
  }

  private async requireCluster (name: string, deadline: number): Promise<AtlasCluster> {
    try {
      return await this.deps.atlas.getCluster(name, { deadline })
    } catch (err) {
      if (err instanceof ClusterNotFoundError) throw new BadRequestError(`cluster '${name}' does not exist in the Atlas project`)
      throw err
    }
  }


}

/** A deprovision met a bind that is still creating its user (422: retry). */
class BindInProgressError extends ConcurrencyError {}

function answerExistingInstance (existing: InstanceRecord, details: ProvisionDetails): ProvisionedInstanceSpec {
  if (!sameInstanceRequest(existing, details)) throw new InstanceConflictError('an instance with this id already exists with different attributes')
  if (existing.state === 'deleting') throw new ConcurrencyError('the instance is being deleted')
  return { alreadyExists: true, isAsync: false }
}

function sameBinding (existing: BindingRecord, details: BindDetails): boolean {
  return existing.serviceId === details.serviceId &&
    existing.planId === details.planId &&
    existing.appGuid === details.appGuid &&
    jsonEqual(existing.parameters, details.parameters ?? {}) &&
    jsonEqual(existing.bindResource ?? {}, details.bindResource ?? {})
}

function checkMaintenanceInfo (resolved: ResolvedPlan, requested: MaintenanceInfo | undefined): void {
  if (requested?.version === undefined) return
  const current = resolved.plan.maintenance_info?.version
  if (requested.version !== current) {
    throw new MaintenanceInfoConflictError(current === undefined
      ? `plan ${resolved.plan.name} has no maintenance_info; omit it`
      : `maintenance_info.version ${requested.version} does not match the plan's ${current}`)
  }
}

function lastOperationOf (operation: OperationRecord): LastOperation {
  const result: LastOperation = { state: operation.state }
  if (operation.description !== undefined && operation.description !== '') result.description = operation.description
  if (operation.state === 'failed' && (operation.kind === 'update' || operation.kind === 'deprovision')) {
    if (operation.instanceUsable !== undefined) result.instanceUsable = operation.instanceUsable
    if (operation.kind === 'update' && operation.updateRepeatable !== undefined) result.updateRepeatable = operation.updateRepeatable
  }
  return result
}

function resolvePlanOrUndefined (catalog: BrokerCatalog, serviceId: string, planId: string): ResolvedPlan | undefined {
  try {
    return resolvePlan(catalog, serviceId, planId)
  } catch {
    return undefined
  }
}



function bindingFacts (instance: InstanceRecord, bindingId: string, details: BindDetails): BindingData {
  return {
    bindingId,
    instanceId: instance.id,
    serviceId: details.serviceId,
    planId: details.planId,
    parameters: details.parameters ?? {},
    context: details.context ?? {},
    database: instance.database,
    cluster: instance.cluster,
    instance: {
      instanceId: instance.id,
      serviceId: instance.serviceId,
      planId: instance.planId,
      organizationGuid: instance.organizationGuid,
      spaceGuid: instance.spaceGuid,
      parameters: instance.parameters,
      context: instance.context ?? {}
    }
  }
}

/**
 * The broker's use cases: the ServiceBroker port implemented over AtlasPort, StoragePort and the policy.
 * Instances of the shared-cluster plan are handled here; cluster plans in ClusterInstances; the Atlas users
 * of bindings in Bindings.
 *
 * Consistency rules every method keeps:
 * - a 4xx changes nothing (all checks run before the first write);
 * - a record is claimed in storage (atomic create-if-absent, or a conditional update) before Atlas is
 *   touched, so concurrent identical requests cause one Atlas side effect;
 * - when Atlas or storage fails half-way, the broker undoes what it did, and whatever it could not undo is
 *   left in a state that the platform's retry (or DELETE) finishes.
 */
import { type AtlasCluster, type AtlasTarget, ClusterNotFoundError } from '../ports/atlas-port.js'
import {
  type BindDetails, type BindingSpec, type Catalog, type DeprovisionDetails, type DeprovisionServiceSpec,
  type FetchBindingDetails, type FetchedBindingSpec, type FetchInstanceDetails, type InstanceSpec,
  type LastOperation, type MaintenanceInfo, type PollDetails, type ProvisionDetails, type ProvisionedInstanceSpec,
  type RequestMeta, type ServiceBroker, type UnbindDetails, type UnbindSpec, type UpdateDetails, type UpdateServiceSpec,
  BadRequestError, BindingGoneError, BindingNotFoundError, ConcurrencyError, InstanceConflictError,
  InstanceGoneError, InstanceNotFoundError, MaintenanceInfoConflictError, UnprocessableError
} from '../ports/service-broker.js'
import {
  type BindingRecord, type InstanceRecord, type OperationRecord, RecordExistsError, VersionConflictError
} from '../ports/storage-port.js'
import { authOf } from './binding-credentials.js'
import { bindingLifetime } from './binding-decisions.js'
import { BindInProgressError, Bindings, bindingFacts, ExpiredBindingError } from './bindings.js'
import {
  type ResolvedPlan, dedicatedSettings, isBindable, isPlanUpdateable, planTarget, resolvePlan, resolvePlanOrUndefined, servedCatalog
} from './catalog.js'
import { ClusterInstances } from './cluster-instances.js'
import { dropDatabaseIfUnused } from './database-drop.js'
import { claimInstance, releaseInstance, restoreInstance } from './instance-claims.js'
import { refuseSharedAccessList } from './instance-projects.js'
import { toBrokerError } from './errors.js'
import {
  type BrokerDeps, checkDatabaseName, instanceFacts, instanceRecord, Kit, sameInstanceRequest, stringParam
} from './kit.js'

export { type BrokerDeps, type BrokerSettings, BINDING_LABEL, INSTANCE_LABEL } from './kit.js'

export class AtlasBroker implements ServiceBroker {
  private readonly deps: BrokerDeps
  private readonly kit: Kit
  private readonly clusters: ClusterInstances
  private readonly bindings: Bindings

  constructor (deps: BrokerDeps) {
    this.deps = deps
    this.kit = new Kit(deps)
    this.clusters = new ClusterInstances(deps, this.kit)
    this.bindings = new Bindings(deps, this.kit)
  }

  catalog (): Catalog {
    return servedCatalog(this.deps.catalog)
  }

  // ---------------------------------------------------------------------------------------------
  // Instances

  async provision (instanceId: string, details: ProvisionDetails, asyncAllowed: boolean, meta: RequestMeta): Promise<ProvisionedInstanceSpec> {
    return await this.withDashboard(instanceId, await this.provisionInstance(instanceId, details, asyncAllowed, meta))
  }

  /**
   * Binding rotation (OSB I11): the predecessor must be a live binding of the same instance, on a plan that
   * allows rotation; anything else is a 400 that changes nothing.
   */
  private async predecessorOf (instance: InstanceRecord, bindingId: string, predecessorId: string, resolved: ResolvedPlan): Promise<BindingRecord> {
    if (resolved.plan.binding_rotatable !== true) throw new BadRequestError(`plan ${resolved.plan.name} does not allow binding rotation (binding_rotatable is false)`)
    if (predecessorId === bindingId) throw new BadRequestError('predecessor_binding_id names the binding being created')
    const predecessor = await this.deps.storage.getBinding(predecessorId)
    if (predecessor === undefined || predecessor.instanceId !== instance.id || predecessor.state === 'deleted') {
      throw new BadRequestError(`predecessor_binding_id ${predecessorId} is not a binding of instance ${instance.id}`)
    }
    if (predecessor.state !== 'ready') throw new ConcurrencyError(`predecessor binding ${predecessorId} is being changed; retry`)
    return predecessor
  }

  /**
   * The instance's dashboard_url: its cluster in the Atlas UI (OSB D10: in the first answer, async ones too).
   * Read from the record the provision made; nothing when dashboards are off or the record is gone.
   */
  private async withDashboard<T extends { dashboardUrl?: string }> (instanceId: string, spec: T): Promise<T> {
    if (this.deps.settings.dashboard === undefined) return spec
    const record = await this.deps.storage.getInstance(instanceId).catch(() => undefined)
    const url = record === undefined || record.state === 'deleted' ? undefined : this.dashboardUrl(record)
    return url === undefined ? spec : { ...spec, dashboardUrl: url }
  }

  /** The cluster's page in the Atlas UI, in the record's own project. */
  private dashboardUrl (record: InstanceRecord): string | undefined {
    const dashboard = this.deps.settings.dashboard
    if (dashboard === undefined) return undefined
    return `${dashboard.baseUrl}/v2/${record.project?.projectId ?? dashboard.defaultProjectId}#/clusters/detail/${encodeURIComponent(record.cluster)}`
  }

  private async provisionInstance (instanceId: string, details: ProvisionDetails, asyncAllowed: boolean, meta: RequestMeta): Promise<ProvisionedInstanceSpec> {
    return this.guard(async () => {
      const resolved = resolvePlan(this.deps.catalog, details.serviceId, details.planId)
      checkMaintenanceInfo(resolved, details.maintenanceInfo)
      const parameters = details.parameters ?? {}
      // Said in words before the schema's generic "additional property": access lists are per project.
      if (dedicatedSettings(resolved)?.projectPerInstance === undefined) refuseSharedAccessList(parameters)
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
      const target = planTarget(resolved.plan.atlas)
      await this.requireCluster(clusterName, target, deadline)
      const facts = instanceFacts(instanceId, details)
      const database = stringParam(parameters, 'database') ?? this.kit.policy.databaseName(facts)
      checkDatabaseName(database)
      const record = instanceRecord(instanceId, details, {
        state: 'ready', lastOperation: this.kit.operation('provision', 'succeeded'), cluster: clusterName, database,
        ...(target === undefined ? {} : { project: target })
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
      if (record.ownProject === undefined || dedicatedSettings(target)?.projectPerInstance === undefined) refuseSharedAccessList(details.parameters ?? {})
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
        const spec = await this.clusters.deprovision(record, asyncAllowed, deadline => this.bindings.revokeAll(instanceId, deadline))
        this.deps.logger.info({ instanceId, async: spec.isAsync, originatingIdentity: meta.originatingIdentity }, 'instance deletion accepted')
        return spec
      }
      const claimed = await claimInstance(this.deps, this.kit, record, 'deprovision')
      const deadline = this.kit.deadline()
      try {
        await this.bindings.revokeAll(instanceId, deadline)
        if (this.deps.settings.dropDatabaseOnDeprovision === true) await dropDatabaseIfUnused(this.deps, this.kit, claimed, deadline)
        await this.deps.storage.updateInstance(instanceId, claimed.version, {
          state: 'deleted', leaseUntil: undefined, lastOperation: this.kit.operation('deprovision', 'succeeded')
        })
      } catch (err) {
        // A bind in progress: nothing was revoked, so the instance goes back to how it was; the platform retries.
        if (err instanceof BindInProgressError) await restoreInstance(this.deps, claimed, record)
        else await releaseInstance(this.deps, this.kit, instanceId, 'deprovision', err)
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
      const dashboardUrl = this.dashboardUrl(record)
      if (dashboardUrl !== undefined) spec.dashboardUrl = dashboardUrl
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

      const lifetimeHours = bindingLifetime(parameters, resolved)
      const predecessor = details.predecessorBindingId === undefined ? undefined : await this.predecessorOf(instance, bindingId, details.predecessorBindingId, resolved)
      return await this.bindings.bind(instance, bindingId, details, meta, {
        authSettings: resolved.plan.atlas,
        ...(predecessor === undefined ? {} : { predecessor }), ...(lifetimeHours === undefined ? {} : { lifetimeHours })
      })
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
      await this.bindings.revoke(binding, this.kit.deadline())
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
      // Imported from python-atlasbroker: no password was ever known here, so the binding is shown without credentials.
      if (binding.origin !== undefined && binding.sealedPassword === undefined) return { parameters: binding.parameters }
      const details: BindDetails = {
        serviceId: binding.serviceId, planId: binding.planId, parameters: binding.parameters, ...(binding.context === undefined ? {} : { context: binding.context })
      }
      const spec = await this.bindings.answer(binding, bindingFacts(instance, bindingId, details, { auth: authOf(binding).kind }), this.kit.deadline()).catch((err: unknown) => {
        // Expired credentials: Atlas deleted the user, so the binding is no more (OSB J2: 404).
        if (err instanceof ExpiredBindingError) throw new BindingNotFoundError(err.message)
        throw err
      })
      const fetched: FetchedBindingSpec = { parameters: binding.parameters }
      if (spec.credentials !== undefined) fetched.credentials = spec.credentials
      if (spec.endpoints !== undefined) fetched.endpoints = spec.endpoints
      if (spec.metadata !== undefined) fetched.metadata = spec.metadata
      return fetched
    })
  }

  // ---------------------------------------------------------------------------------------------
  // Binding internals

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

  private async requireCluster (name: string, target: AtlasTarget | undefined, deadline: number): Promise<AtlasCluster> {
    try {
      return await this.kit.atlasOf({ project: target }).getCluster(name, { deadline })
    } catch (err) {
      if (err instanceof ClusterNotFoundError) throw new BadRequestError(`cluster '${name}' does not exist in the Atlas project`)
      throw err
    }
  }
}

function answerExistingInstance (existing: InstanceRecord, details: ProvisionDetails): ProvisionedInstanceSpec {
  if (!sameInstanceRequest(existing, details)) throw new InstanceConflictError('an instance with this id already exists with different attributes')
  if (existing.state === 'deleting') throw new ConcurrencyError('the instance is being deleted')
  return { alreadyExists: true, isAsync: false }
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

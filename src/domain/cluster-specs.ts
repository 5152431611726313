/**
 * The cluster side of cluster plans, as plain functions: the Atlas cluster an instance's parameters ask for,
 * how an operation's progress is described (an update's included), which failures are ambiguous, and what an
 * update may change.
 */
import { type AtlasCluster, type ClusterSpec, AtlasUnavailableError } from '../ports/atlas-port.js'
import { type JsonObject, BadRequestError } from '../ports/service-broker.js'
import { type InstanceRecord, type OperationRecord, StorageError } from '../ports/storage-port.js'
import type { DedicatedClusterPlanSettings } from './catalog.js'
import { INSTANCE_LABEL, labelValue, MANAGED_BY, MANAGED_BY_LABEL, stringParam } from './kit.js'

/** Instance parameters that map onto cluster settings an update may change. */
export const CHANGEABLE = ['backupEnabled', 'terminationProtectionEnabled', 'mongoDBMajorVersion'] as const
export const IN_PROGRESS_STATES = new Set(['CREATING', 'UPDATING', 'REPAIRING'])

/** A failure after which Atlas may have done what was asked (its answer lost), or the record could not be written. */
export function isAmbiguous (err: unknown): boolean {
  return err instanceof AtlasUnavailableError || err instanceof StorageError
}

export function progress (op: OperationRecord, cluster: AtlasCluster, at: string): Partial<InstanceRecord> | undefined {
  const description = `Atlas cluster ${cluster.name} is ${cluster.stateName}`
  if (op.description === description) return undefined
  if (!IN_PROGRESS_STATES.has(cluster.stateName) && cluster.stateName !== 'DELETING' && cluster.stateName !== 'IDLE') return undefined
  return { lastOperation: { ...op, description, updatedAt: at } }
}

/**
 * How an update in progress stands, given its cluster now (undefined: gone) and the tier its target plan asks
 * for (undefined: no tier change): done once the cluster is IDLE at that tier, failed if it is gone or settled
 * at another tier, otherwise `progress`. Undefined: nothing to record.
 */
export function updateProgress (
  record: InstanceRecord, op: OperationRecord, cluster: AtlasCluster | undefined, wantedSize: string | undefined, at: string
): Partial<InstanceRecord> | undefined {
  if (cluster === undefined) {
    return { state: 'ready', lastOperation: { ...op, state: 'failed', description: `Atlas cluster ${record.cluster} no longer exists`, instanceUsable: false, updateRepeatable: false, updatedAt: at } }
  }
  if (cluster.stateName !== 'IDLE') return progress(op, cluster, at)
  if (wantedSize === undefined || cluster.instanceSize === wantedSize || op.targetPlanId === record.planId) {
    return {
      state: 'ready',
      ...(op.targetPlanId === undefined ? {} : { planId: op.targetPlanId }),
      ...(op.targetParameters === undefined ? {} : { parameters: op.targetParameters }),
      lastOperation: { ...op, state: 'succeeded', description: `Atlas cluster ${record.cluster} is updated`, updatedAt: at }
    }
  }
  return { state: 'ready', lastOperation: { ...op, state: 'failed', description: `Atlas finished the update but cluster ${record.cluster} is ${cluster.instanceSize ?? 'of another tier'}`, instanceUsable: true, updateRepeatable: true, updatedAt: at } }
}

export function ownedBy (cluster: AtlasCluster, instanceId: string): boolean {
  return cluster.tags.some(tag => tag.key === INSTANCE_LABEL && tag.value === labelValue(instanceId))
}

export function effective (plan: DedicatedClusterPlanSettings, parameters: JsonObject, key: (typeof CHANGEABLE)[number]): unknown {
  if (parameters[key] !== undefined) return parameters[key]
  if (key === 'backupEnabled') return plan.defaultBackupEnabled ?? false
  if (key === 'terminationProtectionEnabled') return plan.defaultTerminationProtectionEnabled ?? false
  return plan.defaultMongoDBMajorVersion
}

/** The Atlas cluster for an instance's parameters, defaults from its plan; choices outside the plan are a 400. */
export function clusterSpec (plan: DedicatedClusterPlanSettings, parameters: JsonObject, name: string, instanceId: string): ClusterSpec {
  const provider = stringParam(parameters, 'provider') ?? plan.providers[0] ?? 'AWS'
  if (!(plan.providers as string[]).includes(provider)) throw new BadRequestError(`provider ${provider} is not offered by this plan (${plan.providers.join(', ')})`)
  const region = stringParam(parameters, 'region') ?? plan.defaultRegion
  if (plan.regions !== undefined && !plan.regions.includes(region)) throw new BadRequestError(`region ${region} is not offered by this plan (${plan.regions.join(', ')})`)
  const version = stringParam(parameters, 'mongoDBMajorVersion') ?? plan.defaultMongoDBMajorVersion
  const backup = typeof parameters.backupEnabled === 'boolean' ? parameters.backupEnabled : plan.defaultBackupEnabled
  const protection = typeof parameters.terminationProtectionEnabled === 'boolean' ? parameters.terminationProtectionEnabled : plan.defaultTerminationProtectionEnabled
  return {
    name,
    kind: plan.clusterKind,
    ...(plan.instanceSize === undefined ? {} : { instanceSize: plan.instanceSize }),
    providerName: provider,
    regionName: region,
    ...(version === undefined ? {} : { mongoDBMajorVersion: version }),
    ...(backup === undefined ? {} : { backupEnabled: backup }),
    ...(protection === undefined ? {} : { terminationProtectionEnabled: protection }),
    tags: [{ key: INSTANCE_LABEL, value: labelValue(instanceId) }, { key: MANAGED_BY_LABEL, value: MANAGED_BY }]
  }
}

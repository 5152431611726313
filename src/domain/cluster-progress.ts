/**
 * How a cluster-plan instance's operation moves on: read when the platform polls last_operation (or touches
 * the instance), from what Atlas says of the cluster (and of the instance's own project), so it survives
 * broker restarts and any replica can answer. Provision succeeds once the cluster is IDLE (and, in its own
 * project, the access list is ACTIVE); update once Atlas reports the change applied; deprovision once the
 * cluster (and its own project) is gone, repeating the delete if Atlas lost it.
 */
import type { AtlasCluster } from '../ports/atlas-port.js'
import { type InstanceRecord, VersionConflictError } from '../ports/storage-port.js'
import { clusterPlanSettings, dedicatedSettings, resolvePlanOrUndefined } from './catalog.js'
import { isAmbiguous, progress, updateProgress } from './cluster-specs.js'
import { toBrokerError } from './errors.js'
import type { InstanceProjects } from './instance-projects.js'
import type { BrokerDeps, Kit } from './kit.js'

export class ClusterProgress {
  private readonly deps: BrokerDeps
  private readonly kit: Kit
  private readonly projects: InstanceProjects

  constructor (deps: BrokerDeps, kit: Kit, projects: InstanceProjects) {
    this.deps = deps
    this.kit = kit
    this.projects = projects
  }

  /**
   * Brings an instance with an operation in progress up to date with its Atlas cluster and returns the
   * current record. Transient Atlas errors leave the operation in progress.
   */
  async refresh (record: InstanceRecord): Promise<InstanceRecord> {
    const settings = clusterPlanSettings(this.deps.catalog, record)
    const op = record.lastOperation
    if (settings === undefined || op.state !== 'in progress' || record.state === 'deleted' || this.kit.leaseIsLive(record)) return record
    let cluster: AtlasCluster | undefined
    // A poll answers quickly: its Atlas calls get at most 10 s.
    const deadline = this.kit.now() + Math.min(10_000, this.deps.settings.operationBudgetMs)
    try {
      if (op.kind === 'provision' && record.ownProject !== undefined) record = await this.projects.resume(record, settings, deadline)
      cluster = await this.projects.clusterOf(record, deadline)
    } catch (err) {
      if (op.kind === 'provision' && record.ownProject !== undefined && !isAmbiguous(err)) {
        // The project cannot be made as asked (its name is taken, the organisation refuses): the provision failed.
        return await this.deps.storage.updateInstance(record.id, record.version, {
          lastOperation: { ...op, state: 'failed', description: toBrokerError(err).message, updatedAt: new Date(this.kit.now()).toISOString() }
        }).catch(() => record)
      }
      this.deps.logger.warn({ err, instanceId: record.id }, 'could not read the cluster state; the operation stays in progress')
      return record
    }
    const at = new Date(this.kit.now()).toISOString()
    let changes: Partial<InstanceRecord> | undefined
    if (op.kind === 'provision') {
      if (cluster === undefined) changes = { lastOperation: { ...op, state: 'failed', description: `Atlas cluster ${record.cluster} disappeared while it was being created`, updatedAt: at } }
      else if (cluster.stateName === 'IDLE' && record.ownProject !== undefined && !await this.projects.networkReady(record, deadline).catch(() => false)) {
        const description = `Atlas cluster ${record.cluster} is ready; waiting for its project's IP access list to be ACTIVE`
        changes = op.description === description ? undefined : { lastOperation: { ...op, description, updatedAt: at } }
      } else if (cluster.stateName === 'IDLE') changes = { state: 'ready', lastOperation: { ...op, state: 'succeeded', description: `Atlas cluster ${record.cluster} is ready`, updatedAt: at } }
      else changes = progress(op, cluster, at)
    } else if (op.kind === 'update') {
      const target = op.targetPlanId === undefined ? undefined : resolvePlanOrUndefined(this.deps.catalog, record.serviceId, op.targetPlanId)
      changes = updateProgress(record, op, cluster, target === undefined ? undefined : dedicatedSettings(target)?.instanceSize, at)
    } else if (op.kind === 'deprovision') {
      if (cluster === undefined) {
        // The instance's own project goes once Atlas no longer counts the cluster in it.
        const gone = await this.projects.remove(record, deadline).catch((err: unknown) => {
          this.deps.logger.warn({ err, instanceId: record.id }, 'could not delete the instance\'s Atlas project yet; the next poll retries')
          return false
        })
        changes = gone
          ? { state: 'deleted', lastOperation: { ...op, state: 'succeeded', description: `Atlas cluster ${record.cluster} is deleted`, updatedAt: at } }
          : { lastOperation: { ...op, description: `Atlas cluster ${record.cluster} is deleted; deleting its project`, updatedAt: at } }
      } else {
        if (cluster.stateName !== 'DELETING') {
          await this.kit.atlasOf(record).deleteCluster(record.cluster, settings.clusterKind, { deadline }).catch((err: unknown) => {
            this.deps.logger.warn({ err, instanceId: record.id }, 'could not repeat the cluster deletion')
          })
        }
        changes = progress(op, cluster, at)
      }
    }
    if (changes === undefined) return record
    try {
      return await this.deps.storage.updateInstance(record.id, record.version, changes)
    } catch (err) {
      if (!(err instanceof VersionConflictError)) throw err
      return (await this.deps.storage.getInstance(record.id)) ?? record
    }
  }
}

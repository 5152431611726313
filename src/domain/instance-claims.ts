/**
 * A deprovision's hold on a shared-plan instance record: claimed (`deleting`, under a lease) before Atlas is
 * touched, so concurrent requests cause one deletion; given back as it was when nothing was done; released
 * (still `deleting`, unlocked, the failure recorded) when the deletion failed half-way, so the platform's
 * retry goes on.
 */
import { ConcurrencyError } from '../ports/service-broker.js'
import { type InstanceRecord, type OperationKind, VersionConflictError } from '../ports/storage-port.js'
import { type BrokerDeps, describe, type Kit } from './kit.js'

/** Marks an instance as being deleted, unless another request holds it (ConcurrencyError). */
export async function claimInstance (deps: BrokerDeps, kit: Kit, record: InstanceRecord, kind: OperationKind): Promise<InstanceRecord> {
  if (record.state !== 'ready' && kit.leaseIsLive(record)) {
    throw new ConcurrencyError(`instance ${record.id} has an operation in progress`)
  }
  try {
    return await deps.storage.updateInstance(record.id, record.version, {
      state: 'deleting',
      leaseUntil: new Date(kit.now() + deps.settings.leaseMs).toISOString(),
      lastOperation: kit.operation(kind, 'in progress')
    })
  } catch (err) {
    if (err instanceof VersionConflictError) throw new ConcurrencyError(`instance ${record.id} was changed by another request; retry`)
    throw err
  }
}

/** Undoes a deletion claim that did nothing (`before` is the record as it was claimed). */
export async function restoreInstance (deps: BrokerDeps, claimed: InstanceRecord, before: InstanceRecord): Promise<void> {
  await deps.storage.updateInstance(claimed.id, claimed.version, {
    state: before.state, leaseUntil: before.leaseUntil, lastOperation: before.lastOperation
  }).catch((err: unknown) => { deps.logger.warn({ err, instanceId: claimed.id }, 'could not restore an instance after a refused delete') })
}

/** After a failed deprovision: the instance stays `deleting`, unlocked, so the platform's retry goes on. */
export async function releaseInstance (deps: BrokerDeps, kit: Kit, instanceId: string, kind: OperationKind, cause: unknown): Promise<void> {
  try {
    const now = await deps.storage.getInstance(instanceId)
    if (now === undefined) return
    await deps.storage.updateInstance(instanceId, now.version, {
      leaseUntil: undefined, lastOperation: kit.operation(kind, 'failed', describe(cause))
    })
  } catch (err) {
    deps.logger.warn({ err, instanceId }, 'could not release the instance after a failed operation; its lease will expire')
  }
}

/**
 * Dropping a deprovisioned instance's database (DROP_DATABASE_ON_DEPROVISION), unless another live instance
 * uses it. The Admin API cannot drop databases, so a temporary dbAdmin user (scoped to the cluster, derived
 * password) does it through the database port and is deleted afterwards.
 */
import { createHash } from 'node:crypto'
import { DatabaseUserExistsError, DatabaseUserNotFoundError } from '../ports/atlas-port.js'
import { InternalError, ServiceUnavailableError } from '../ports/service-broker.js'
import type { InstanceRecord } from '../ports/storage-port.js'
import { connectionUri, derivePassword } from './credentials.js'
import { type BrokerDeps, INSTANCE_LABEL, type Kit, labelValue, MANAGED_BY, MANAGED_BY_LABEL } from './kit.js'

export async function dropDatabaseIfUnused (deps: BrokerDeps, kit: Kit, instance: InstanceRecord, deadline: number): Promise<void> {
  const { logger, settings, databaseAdmin } = deps
  const atlas = kit.atlasOf(instance)
  const sharing = (await deps.storage.listInstancesUsingDatabase(instance.cluster, instance.database)).filter(i => i.id !== instance.id)
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
    await kit.waitUntilApplied(atlas, instance.cluster, deadline)
    const cluster = await atlas.getCluster(instance.cluster, { deadline })
    const uri = connectionUri(cluster.connectionStrings.standardSrv, username, password, instance.database) ??
      connectionUri(cluster.connectionStrings.standard, username, password, instance.database)
    if (uri === undefined) throw new ServiceUnavailableError(`cluster ${instance.cluster} has no connection string yet`)
    await databaseAdmin.dropDatabase(uri, instance.database, { deadline })
    logger.info({ instanceId: instance.id, cluster: instance.cluster, database: instance.database }, 'database dropped')
  } finally {
    await atlas.deleteDatabaseUser(username, { deadline: kit.cleanupDeadline(deadline) }).catch((err: unknown) => {
      if (!(err instanceof DatabaseUserNotFoundError)) logger.warn({ err, instanceId: instance.id }, 'could not delete the temporary drop user')
    })
  }
}

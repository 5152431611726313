/**
 * In-place upgrade from python-atlasbroker: its state (one collection of instance documents
 * `{instance_id, database, cluster, parameters}` and binding documents `{binding_id, instance_id, parameters}`)
 * becomes this broker's records, so that the platform's unbinds and deprovisions of everything the old broker
 * made reach its Atlas users instead of answering 410 and orphaning them.
 *
 * - Dry run unless `apply`: the report says what would be imported and what is skipped, and why.
 * - Idempotent: a record that exists already is not written again (an imported binding's labels are checked).
 * - A binding's Atlas user must exist; its username is what the policy gives (the seed's default, the binding
 *   id, is the built-in policy's too). Its record is written first, then the user is labelled with the binding
 *   and instance ids, so `sweep` sees it as this broker's and never as an orphan of a record that is missing.
 * - The seed stored no passwords: an imported binding's credentials cannot be shown again (fetch answers without
 *   them, a repeated bind says so); unbinding and binding again gives new ones.
 */
import { DatabaseUserNotFoundError, type Tag } from '../ports/atlas-port.js'
import type { JsonObject } from '../ports/service-broker.js'
import { type BindingRecord, type InstanceRecord, type NewRecord, RecordExistsError } from '../ports/storage-port.js'
import { bindingFacts } from './bindings.js'
import { type BrokerDeps, BINDING_LABEL, DATABASE_NAME, describe, INSTANCE_LABEL, Kit, labelValue, MANAGED_BY, MANAGED_BY_LABEL } from './kit.js'

export const SEED_ORIGIN = 'python-atlasbroker'

export interface SeedImportOptions {
  /** Write the records and label the users; otherwise only report. */
  apply: boolean
  /** The seed's service and plan (its catalog ids are this broker's built-in ones). */
  serviceId: string
  planId: string
}

export interface ImportLine {
  kind: 'instance' | 'binding'
  id: string
  /** imported (or would be, in a dry run), present (already in this broker's state), skipped (cannot be), failed. */
  outcome: 'imported' | 'present' | 'skipped' | 'failed'
  detail: string
}

const CLUSTER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9-]*$/

function asObject (value: unknown): JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as JsonObject : {}
}

function text (value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** What the import uses: Atlas, the broker's state, the policy (usernames). */
export type SeedImportDeps = Pick<BrokerDeps, 'atlas' | 'storage' | 'policy' | 'logger'> & { operationBudgetMs: number }

/** Imports (or, in a dry run, reports on) the seed's documents; one line per document. */
export async function importSeed (imports: SeedImportDeps, documents: unknown[], options: SeedImportOptions): Promise<ImportLine[]> {
  // The use-case kit, for what the import shares with the use cases (operations, deadlines, policy calls); the
  // rest of a broker's dependencies plays no part in it.
  const deps: BrokerDeps = {
    ...imports,
    catalog: { services: [] },
    validator: { validate: () => [] },
    settings: { credentialsSecret: '', userPropagationTimeoutMs: 0, userPropagationPollMs: 1000, operationBudgetMs: imports.operationBudgetMs, leaseMs: imports.operationBudgetMs }
  }
  const kit = new Kit(deps)
  const lines: ImportLine[] = []
  const docs = documents.map(asObject)
  const instances = new Map<string, InstanceRecord | NewRecord<InstanceRecord>>()

  for (const doc of docs.filter(d => d.binding_id === undefined)) {
    const id = text(doc.instance_id)
    if (id === undefined) {
      lines.push({ kind: 'instance', id: '?', outcome: 'skipped', detail: 'a document with neither instance_id nor binding_id' })
      continue
    }
    lines.push(await importInstance(deps, kit, id, doc, options, instances))
  }
  for (const doc of docs.filter(d => d.binding_id !== undefined)) {
    const id = text(doc.binding_id) ?? '?'
    lines.push(await importBinding(deps, kit, id, doc, options, instances))
  }
  return lines
}

async function importInstance (
  deps: BrokerDeps, kit: Kit, id: string, doc: JsonObject, options: SeedImportOptions, instances: Map<string, InstanceRecord | NewRecord<InstanceRecord>>
): Promise<ImportLine> {
  const line = (outcome: ImportLine['outcome'], detail: string): ImportLine => ({ kind: 'instance', id, outcome, detail })
  const existing = await deps.storage.getInstance(id)
  if (existing?.state === 'deleted') return line('skipped', 'deprovisioned through this broker since: not imported again')
  if (existing !== undefined) {
    instances.set(id, existing)
    return line('present', 'already in this broker\'s state')
  }
  const cluster = text(doc.cluster)
  const database = text(doc.database)
  if (cluster === undefined || !CLUSTER_NAME.test(cluster)) return line('skipped', 'no valid cluster name in the document')
  if (database === undefined || !DATABASE_NAME.test(database)) return line('skipped', 'no valid database name in the document')
  const record: NewRecord<InstanceRecord> = {
    id,
    state: 'ready',
    lastOperation: kit.operation('provision', 'succeeded', `imported from ${SEED_ORIGIN}`),
    serviceId: options.serviceId,
    planId: options.planId,
    organizationGuid: '',
    spaceGuid: '',
    parameters: asObject(doc.parameters),
    cluster,
    database,
    origin: SEED_ORIGIN
  }
  instances.set(id, record)
  if (!options.apply) return line('imported', `would import: database ${database} on cluster ${cluster}`)
  try {
    await deps.storage.createInstance(record)
    return line('imported', `database ${database} on cluster ${cluster}`)
  } catch (err) {
    if (err instanceof RecordExistsError) return line('present', 'already in this broker\'s state')
    instances.delete(id)
    return line('failed', describe(err))
  }
}

async function importBinding (
  deps: BrokerDeps, kit: Kit, id: string, doc: JsonObject, options: SeedImportOptions, instances: Map<string, InstanceRecord | NewRecord<InstanceRecord>>
): Promise<ImportLine> {
  const line = (outcome: ImportLine['outcome'], detail: string): ImportLine => ({ kind: 'binding', id, outcome, detail })
  const instanceId = text(doc.instance_id)
  const instance = instanceId === undefined ? undefined : instances.get(instanceId) ?? await deps.storage.getInstance(instanceId)
  if (instance === undefined || instance.state === 'deleted') return line('skipped', `its instance ${instanceId ?? '?'} is neither imported nor in this broker's state`)
  const existing = await deps.storage.getBinding(id)
  if (existing?.state === 'deleted') return line('skipped', 'unbound through this broker since: not imported again')
  if (existing !== undefined && existing.origin !== SEED_ORIGIN) return line('present', 'already in this broker\'s state')
  const parameters = asObject(doc.parameters)
  const facts = bindingFacts({ ...instance, version: 0, createdAt: '', updatedAt: '' }, id, { serviceId: options.serviceId, planId: options.planId, parameters })
  let username: string
  let user
  try {
    username = existing?.username ?? kit.policy.username(facts)
    user = await deps.atlas.getDatabaseUser(username, { deadline: kit.deadline() })
  } catch (err) {
    if (err instanceof DatabaseUserNotFoundError) return line('skipped', 'its Atlas database user does not exist (deleted already?)')
    return line('failed', describe(err))
  }
  const labels: Tag[] = [
    ...user.labels.filter(l => l.key !== BINDING_LABEL && l.key !== INSTANCE_LABEL && l.key !== MANAGED_BY_LABEL),
    { key: BINDING_LABEL, value: labelValue(id) },
    { key: INSTANCE_LABEL, value: labelValue(instance.id) },
    { key: MANAGED_BY_LABEL, value: MANAGED_BY }
  ]
  const labelled = labels.every(l => user.labels.some(u => u.key === l.key && u.value === l.value))
  if (!options.apply) {
    return line(existing !== undefined ? 'present' : 'imported', `${existing !== undefined ? 'already imported' : 'would import'}: Atlas user ${username}${labelled ? '' : ', to be labelled'}`)
  }
  try {
    if (existing === undefined) {
      const record: NewRecord<BindingRecord> = {
        id,
        state: 'ready',
        lastOperation: kit.operation('bind', 'succeeded', `imported from ${SEED_ORIGIN}`),
        instanceId: instance.id,
        serviceId: options.serviceId,
        planId: options.planId,
        parameters,
        username,
        roles: user.roles,
        cluster: instance.cluster,
        database: instance.database,
        origin: SEED_ORIGIN
      }
      await deps.storage.createBinding(record)
    }
    if (!labelled) await deps.atlas.updateDatabaseUser(username, { labels }, { deadline: kit.deadline() })
    return line(existing !== undefined ? 'present' : 'imported', `Atlas user ${username}${labelled ? '' : ', labelled'}`)
  } catch (err) {
    if (err instanceof RecordExistsError) return line('present', 'already in this broker\'s state')
    return line('failed', describe(err))
  }
}

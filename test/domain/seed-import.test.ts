/**
 * import-seed: python-atlasbroker's state becomes this broker's records, so the platform's unbinds and
 * deprovisions of the old broker's instances reach their Atlas users. Dry run by default, idempotent,
 * partial failures reported and finished by a re-run, imported users labelled so `sweep` accounts for them.
 */
import t from 'tap'
import { SEED_PLAN_ID, SEED_SERVICE_ID } from '../../src/app/default-catalog.js'
import { defaultPolicy } from '../../src/domain/default-policy.js'
import { importSeed, type SeedImportDeps } from '../../src/domain/seed-import.js'
import { findOrphans } from '../../src/domain/sweep.js'
import { silentLogger } from '../../src/ports/logger-port.js'
import type { Policy } from '../../src/ports/policy-port.js'
import { UnprocessableError } from '../../src/ports/service-broker.js'
import { StorageUnavailableError } from '../../src/ports/storage-port.js'
import { FakeAtlas } from '../fakes/fake-atlas.js'
import { FaultyStorage } from '../fakes/faulty-storage.js'
import { makeBroker, settings } from '../helpers/broker.js'

const I1 = '3c1f0b9e-6a2d-4e8f-9b7c-1a2b3c4d5e6f'
const I2 = '8d7c6b5a-4f3e-4d2c-9b1a-0f9e8d7c6b5a'
const B1 = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d'
const B2 = 'f0e1d2c3-b4a5-4968-8778-695a4b3c2d1e'

/** Documents as the seed stores them (mongoexport adds an `_id`). */
const seedDocuments = (): unknown[] => [
  { _id: { $oid: '5f0000000000000000000001' }, instance_id: I1, database: `instance-${I1}`, cluster: 'Cluster0', parameters: { ns: 'team-a' } },
  { _id: { $oid: '5f0000000000000000000002' }, instance_id: I2, database: 'shared', parameters: {} },
  { _id: { $oid: '5f0000000000000000000003' }, binding_id: B1, instance_id: I1, parameters: {} },
  { _id: { $oid: '5f0000000000000000000004' }, binding_id: B2, instance_id: I1, parameters: {} },
  { _id: { $oid: '5f0000000000000000000005' }, binding_id: 'orphan-binding', instance_id: 'gone', parameters: {} }
]

function setup (policy: Policy = defaultPolicy): { deps: SeedImportDeps, atlas: FakeAtlas, storage: FaultyStorage } {
  const atlas = new FakeAtlas()
  const storage = new FaultyStorage()
  // The seed's user for B1 (its default username is the binding id; roles dbAdmin + readWrite); B2's was deleted by hand.
  atlas.users.set(B1, { username: B1, password: 'seed-random-password', roles: [{ roleName: 'dbAdmin', databaseName: `instance-${I1}` }, { roleName: 'readWrite', databaseName: `instance-${I1}` }], scopes: [], labels: [{ key: 'team', value: 'a' }] })
  const deps: SeedImportDeps = { atlas, storage, policy, logger: silentLogger, operationBudgetMs: settings.operationBudgetMs }
  return { deps, atlas, storage }
}

const options = { serviceId: SEED_SERVICE_ID, planId: SEED_PLAN_ID }

t.test('a dry run reports every document and writes nothing', async t => {
  const { deps, atlas, storage } = setup()
  const lines = await importSeed(deps, seedDocuments(), { ...options, apply: false })
  t.same(lines.map(l => `${l.kind} ${l.id} ${l.outcome}`), [
    `instance ${I1} imported`, `instance ${I2} skipped`, `binding ${B1} imported`, `binding ${B2} skipped`, 'binding orphan-binding skipped'
  ])
  t.match(lines[0]!.detail, /^would import: database instance-3c1f.* on cluster Cluster0$/)
  t.match(lines[1]!.detail, /no valid cluster name/)
  t.match(lines[2]!.detail, /would import: Atlas user a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d, to be labelled/)
  t.match(lines[3]!.detail, /Atlas database user does not exist/)
  t.match(lines[4]!.detail, /instance gone is neither imported nor in this broker's state/)
  t.equal(await storage.getInstance(I1), undefined)
  t.equal(await storage.getBinding(B1), undefined)
  t.same(atlas.users.get(B1)?.labels, [{ key: 'team', value: 'a' }], 'Atlas untouched')
})

t.test('apply: records written, the user labelled (its other labels kept); a re-run changes nothing', async t => {
  const { deps, atlas, storage } = setup()
  const lines = await importSeed(deps, seedDocuments(), { ...options, apply: true })
  t.same(lines.filter(l => l.outcome === 'imported').map(l => l.id), [I1, B1])
  const instance = await storage.getInstance(I1)
  t.match(instance, { state: 'ready', cluster: 'Cluster0', database: `instance-${I1}`, serviceId: SEED_SERVICE_ID, planId: SEED_PLAN_ID, origin: 'python-atlasbroker', parameters: { ns: 'team-a' } })
  t.match(await storage.getBinding(B1), { state: 'ready', instanceId: I1, username: B1, roles: [{ roleName: 'dbAdmin' }, { roleName: 'readWrite' }], origin: 'python-atlasbroker' })
  t.same(atlas.users.get(B1)?.labels, [
    { key: 'team', value: 'a' }, { key: 'osb-binding-id', value: B1 }, { key: 'osb-instance-id', value: I1 }, { key: 'managed-by', value: 'atlas-broker' }
  ])
  t.equal(atlas.users.get(B1)?.password, 'seed-random-password', 'the application\'s password is untouched')
  const again = await importSeed(deps, seedDocuments(), { ...options, apply: true })
  t.same(again.map(l => `${l.id} ${l.outcome}`), [`${I1} present`, `${I2} skipped`, `${B1} present`, `${B2} skipped`, 'orphan-binding skipped'], 'idempotent')
  t.equal(atlas.count('updateDatabaseUser'), 1, 'labels checked, not written again')
  t.same(await findOrphans(atlas, storage), [], 'sweep accounts for the imported user')
})

t.test('the new broker unbinds and deprovisions what the old one made; credentials it never had are not invented', async t => {
  const { deps, atlas, storage } = setup()
  await importSeed(deps, seedDocuments(), { ...options, apply: true })
  const { broker } = makeBroker({ atlas, storage })
  const fetched = await broker.getBinding(I1, B1, {})
  t.same(fetched, { parameters: {} }, 'fetch answers without credentials')
  await t.rejects(broker.bind(I1, B1, { serviceId: SEED_SERVICE_ID, planId: SEED_PLAN_ID }, false, {}), UnprocessableError, 'a repeated bind says why it cannot answer')
  await broker.unbind(I1, B1, { serviceId: SEED_SERVICE_ID, planId: SEED_PLAN_ID }, false, {})
  t.equal(atlas.users.has(B1), false, 'the old broker\'s user is deleted by the platform\'s unbind')
  await broker.bind(I1, 'new-binding', { serviceId: SEED_SERVICE_ID, planId: SEED_PLAN_ID }, false, {})
  await broker.deprovision(I1, { serviceId: SEED_SERVICE_ID, planId: SEED_PLAN_ID }, false, {})
  t.equal(atlas.users.size, 0, 'deprovision revokes every binding')
  const rerun = await importSeed(deps, seedDocuments(), { ...options, apply: true })
  t.match(rerun[0], { outcome: 'skipped', detail: /deprovisioned through this broker since/ }, 'a deprovisioned instance is not brought back')
})

t.test('the username is the policy\'s (a seed CustomConfig-style policy gives <binding id>-rw)', async t => {
  const { deps, atlas } = setup({ ...defaultPolicy, username: b => `${b.bindingId}-rw` })
  atlas.users.set(`${B1}-rw`, { username: `${B1}-rw`, password: 'x'.repeat(12), roles: [{ roleName: 'readWrite', databaseName: 'd' }], scopes: [], labels: [] })
  const lines = await importSeed(deps, seedDocuments(), { ...options, apply: true })
  t.match(lines.find(l => l.id === B1), { outcome: 'imported', detail: `Atlas user ${B1}-rw, labelled` })
})

t.test('a failure half-way is reported; a re-run finishes the import', async t => {
  const { deps, storage } = setup()
  storage.failNext('createBinding', new StorageUnavailableError('connection reset'))
  const first = await importSeed(deps, seedDocuments(), { ...options, apply: true })
  t.match(first.find(l => l.id === B1), { outcome: 'failed', detail: /storage/ })
  t.equal(await storage.getBinding(B1), undefined)
  const second = await importSeed(deps, seedDocuments(), { ...options, apply: true })
  t.match(second.find(l => l.id === B1), { outcome: 'imported' })
  t.match(second.find(l => l.id === I1), { outcome: 'present' })
})

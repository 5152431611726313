/**
 * Use cases against stateful fakes of AtlasPort and StoragePort that throw the real port errors,
 * with failure injection and concurrency.
 */
import t, { type Test } from 'tap'
import { defaultPolicy } from '../../src/domain/default-policy.js'
import { AtlasUnavailableError, AtlasAuthError, AtlasRateLimitedError, DatabaseUserExistsError } from '../../src/ports/atlas-port.js'
import type { Policy } from '../../src/ports/policy-port.js'
import {
  BindingConflictError, BrokerMisconfiguredError, ConcurrencyError, InstanceConflictError, InternalError, ServiceUnavailableError, type BindDetails, type ProvisionDetails
} from '../../src/ports/service-broker.js'
import { StorageUnavailableError } from '../../src/ports/storage-port.js'
import { makeBroker, PLAN_ID, SERVICE_ID, type TestBroker } from '../helpers/broker.js'

const provision: ProvisionDetails = { serviceId: SERVICE_ID, planId: PLAN_ID, organizationGuid: 'o', spaceGuid: 's', parameters: { database: 'db1' } }
const bind: BindDetails = { serviceId: SERVICE_ID, planId: PLAN_ID }

t.test('20 parallel identical provisions: one created, the rest identical, one record', async t => {
  const { broker, atlas } = makeBroker()
  const results = await Promise.all(Array.from({ length: 20 }, () => broker.provision('p1', provision, false, {})))
  t.equal(results.filter(r => !r.alreadyExists).length, 1)
  t.equal(results.filter(r => r.alreadyExists).length, 19)
  t.equal(atlas.users.size, 0, 'provision on the shared plan creates no Atlas user')
})

t.test('parallel provisions with different attributes: one wins, the others conflict', async t => {
  const { broker } = makeBroker()
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) =>
    broker.provision('p2', { ...provision, parameters: { database: `db${i}` } }, false, {})))
  t.equal(results.filter(r => r.status === 'fulfilled').length, 1)
  for (const r of results) if (r.status === 'rejected') t.type(r.reason, InstanceConflictError)
})

t.test('20 parallel identical binds: exactly one Atlas user, the same credentials for all', async t => {
  const { broker, atlas } = makeBroker()
  await broker.provision('i', provision, false, {})
  atlas.delay('createDatabaseUser', 30)
  atlas.changeStatuses.push('PENDING', 'PENDING')
  const results = await Promise.all(Array.from({ length: 20 }, () => broker.bind('i', 'b', bind, false, {})))
  t.equal(atlas.count('createDatabaseUser'), 1)
  t.equal(atlas.users.size, 1)
  t.equal(results.filter(r => !r.alreadyExists).length, 1)
  const passwords = new Set(results.map(r => r.credentials?.password))
  t.equal(passwords.size, 1)
})

t.test('bind waits until the user is APPLIED on the cluster before answering', async t => {
  const { broker, atlas } = makeBroker()
  await broker.provision('i', provision, false, {})
  atlas.changeStatuses.push('PENDING', 'PENDING', 'PENDING')
  await broker.bind('i', 'b', bind, false, {})
  t.equal(atlas.count('clusterChangeStatus'), 4, 'polled until APPLIED')
})

t.test('a user that never reaches APPLIED in time: 503, user and record removed', async t => {
  const { broker, atlas, storage } = makeBroker({ settings: { userPropagationTimeoutMs: 50, userPropagationPollMs: 10 } })
  await broker.provision('i', provision, false, {})
  atlas.changeStatuses.push(...Array.from({ length: 100 }, () => 'PENDING' as const))
  await t.rejects(broker.bind('i', 'b', bind, false, {}), ServiceUnavailableError)
  t.equal(atlas.users.size, 0)
  t.equal(await storage.getBinding('b'), undefined)
})

t.test('an Atlas failure during bind leaves no binding record and no user', async t => {
  const { broker, atlas, storage } = makeBroker()
  await broker.provision('i', provision, false, {})
  atlas.failNext('createDatabaseUser', new AtlasUnavailableError('boom', { status: 500 }))
  await t.rejects(broker.bind('i', 'b', bind, false, {}), ServiceUnavailableError)
  t.equal(await storage.getBinding('b'), undefined)
  t.equal(atlas.users.size, 0)
  const retry = await broker.bind('i', 'b', bind, false, {})
  t.equal(retry.alreadyExists, false, 'the platform retry creates it')
  t.equal(atlas.users.size, 1)
})

t.test('a storage failure after the Atlas user was created leaves no orphan user', async t => {
  const { broker, atlas, storage } = makeBroker()
  await broker.provision('i', provision, false, {})
  storage.failNext('updateBinding', new StorageUnavailableError('connection lost'))
  await t.rejects(broker.bind('i', 'b', bind, false, {}), ServiceUnavailableError)
  t.equal(atlas.users.size, 0, 'the user was deleted again')
  t.equal(await storage.getBinding('b'), undefined)
})

t.test('storage and Atlas both failing during cleanup: the platform DELETE removes the orphan user', async t => {
  const { broker, atlas, storage } = makeBroker()
  await broker.provision('i', provision, false, {})
  storage.failNext('updateBinding', new StorageUnavailableError('connection lost'))
  atlas.failNext('deleteDatabaseUser', new AtlasUnavailableError('down'))
  await t.rejects(broker.bind('i', 'b', bind, false, {}))
  t.equal(atlas.users.size, 1, 'the user could not be removed yet')
  const record = await storage.getBinding('b')
  t.equal(record?.state, 'creating', 'the claim stays, naming the user')
  await broker.unbind('i', 'b', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {})
  t.equal(atlas.users.size, 0, 'orphan mitigation removed it')
  t.equal((await storage.getBinding('b'))?.state, 'deleted')
})

/**
 * A replica that created binding b's claim and its Atlas user, then died before marking it ready; returns a
 * second replica that runs after the claim's lease has expired.
 */
async function crashedBind (t: Test): Promise<TestBroker & { later: TestBroker }> {
  const made = makeBroker({ settings: { leaseMs: 1000 } })
  await made.broker.provision('i', provision, false, {})
  made.storage.failNext('updateBinding', new StorageUnavailableError('crash'))
  made.atlas.failNext('deleteDatabaseUser', new AtlasUnavailableError('crash'))
  await t.rejects(made.broker.bind('i', 'b', bind, false, {}))
  t.equal(made.atlas.users.size, 1, 'the crashed attempt left its user')
  return { ...made, later: makeBroker({ atlas: made.atlas, storage: made.storage, settings: { leaseMs: 1000 }, now: () => Date.now() + 5000 }) }
}

t.test('a stale claim (crashed replica) is taken over; its Atlas user is adopted', async t => {
  const { atlas, storage, later } = await crashedBind(t)
  const result = await later.broker.bind('i', 'b', bind, false, {})
  t.equal(result.alreadyExists, false)
  t.equal(atlas.users.size, 1, 'still exactly one user')
  t.equal(atlas.users.get('b')?.password, result.credentials?.password, 'its password was brought up to date')
  t.equal((await storage.getBinding('b'))?.state, 'ready')
})

t.test('a create whose answer was lost (Atlas made the user, the call timed out): the user is deleted with the claim', async t => {
  const { broker, atlas, storage } = makeBroker()
  await broker.provision('i', provision, false, {})
  atlas.loseAnswerNext('createDatabaseUser', new AtlasUnavailableError('timed out'))
  await t.rejects(broker.bind('i', 'b', bind, false, {}), ServiceUnavailableError)
  t.equal(atlas.users.size, 0, 'no user left without a record')
  t.equal(await storage.getBinding('b'), undefined)
  // An orphan-mitigation DELETE now answers 410, which is right: nothing is left to remove.
})

t.test('cleanup after a failed bind is bounded: the call\'s deadline, or 3 s more once it has passed', async t => {
  let clock = 1_000_000
  const { broker, atlas } = makeBroker({ now: () => clock, settings: { operationBudgetMs: 10_000 } })
  await broker.provision('i', provision, false, {})
  // The create takes the whole budget and more, then times out (its answer lost): the undo must not get a
  // fresh budget.
  atlas.loseAnswerNext('createDatabaseUser', new AtlasUnavailableError('timed out'))
  const create = atlas.createDatabaseUser.bind(atlas)
  let createDeadline: number | undefined
  atlas.createDatabaseUser = async (spec, options) => {
    createDeadline = options?.deadline
    clock += 12_000
    return await create(spec, options)
  }
  await t.rejects(broker.bind('i', 'b', bind, false, {}), ServiceUnavailableError)
  t.ok(createDeadline !== undefined && createDeadline < clock, 'the call\'s own deadline had passed')
  const cleanup = atlas.deadlines.find(d => d.method === 'deleteDatabaseUser')
  t.equal(cleanup?.deadline, clock + 3000, '3 s of grace, not a new 10 s budget')
  t.equal(atlas.users.size, 0)
})

t.test('a create refused by Atlas (4xx, or rate-limited to the end) made nothing: no delete is attempted', async t => {
  const { broker, atlas } = makeBroker()
  await broker.provision('i', provision, false, {})
  atlas.failNext('createDatabaseUser', new AtlasRateLimitedError('rate limited', { status: 429, errorCode: 'RATE_LIMITED' }))
  await t.rejects(broker.bind('i', 'b', bind, false, {}))
  t.equal(atlas.count('deleteDatabaseUser'), 0)
})

t.test('a takeover that fails after adopting the earlier attempt\'s user deletes that user too', async t => {
  const { atlas, storage, later } = await crashedBind(t)
  // The takeover adopts the user, then Atlas fails before the user is APPLIED.
  atlas.failNext('clusterChangeStatus', new AtlasUnavailableError('down'))
  await t.rejects(later.broker.bind('i', 'b', bind, false, {}), ServiceUnavailableError)
  t.equal(atlas.users.size, 0, 'the adopted user was deleted with the claim')
  t.equal(await storage.getBinding('b'), undefined)
})

t.test('a user name taken by something this binding does not own is a conflict, and nothing is left', async t => {
  const { broker, atlas, storage } = makeBroker()
  await broker.provision('i', provision, false, {})
  atlas.users.set('b', { username: 'b', password: 'x'.repeat(12), roles: [], scopes: [], labels: [] })
  await t.rejects(broker.bind('i', 'b', bind, false, {}), BindingConflictError)
  t.equal(await storage.getBinding('b'), undefined)
  t.equal(atlas.users.get('b')?.password, 'x'.repeat(12), 'the foreign user is untouched')
})

t.test('USER_ALREADY_EXISTS for a user this binding owns (earlier attempt) is adopted', async t => {
  const { broker, atlas } = makeBroker()
  await broker.provision('i', provision, false, {})
  atlas.failNext('createDatabaseUser', new DatabaseUserExistsError('exists', { status: 409, errorCode: 'USER_ALREADY_EXISTS' }))
  atlas.users.set('b', { username: 'b', password: 'old-password', roles: [], scopes: [], labels: [{ key: 'osb-binding-id', value: 'b' }] })
  const result = await broker.bind('i', 'b', bind, false, {})
  t.equal(atlas.users.get('b')?.password, result.credentials?.password)
})

t.test('deprovision revokes every binding; an Atlas failure midway is retried by the platform', async t => {
  const { broker, atlas, storage } = makeBroker()
  await broker.provision('i', provision, false, {})
  await broker.bind('i', 'b1', bind, false, {})
  await broker.bind('i', 'b2', bind, false, {})
  atlas.failNext('deleteDatabaseUser', new AtlasUnavailableError('down'))
  await t.rejects(broker.deprovision('i', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {}), ServiceUnavailableError)
  t.equal((await storage.getInstance('i'))?.state, 'deleting')
  await t.rejects(broker.bind('i', 'b3', bind, false, {}), ConcurrencyError, 'no new binds while deleting')
  await broker.deprovision('i', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {})
  t.equal(atlas.users.size, 0, 'no live Atlas user left behind')
  t.equal((await storage.getInstance('i'))?.state, 'deleted')
})

t.test('wrong Atlas credentials give a 500 saying an operator must act, not a 503 "retry later"', async t => {
  const { broker, atlas } = makeBroker()
  atlas.failNext('getCluster', new AtlasAuthError('You are not authorized for this resource.', { status: 401 }))
  const err = await broker.provision('i', provision, false, {}).catch((e: unknown) => e)
  t.type(err, BrokerMisconfiguredError)
  t.match((err as Error).message, /operator must fix it/)
  t.notMatch((err as Error).message, /not authorized/, 'Atlas\'s own text stays in the log')
})

t.test('policy hooks decide names, roles and credentials; a throwing hook is a 500 naming it', async t => {
  const policy: Policy = {
    ...defaultPolicy,
    databaseName: i => `ns-${String(i.context.namespace)}`,
    username: b => `${b.bindingId}-rw`,
    roles: b => [{ roleName: 'read', databaseName: b.database }],
    credentials: (_b, c) => ({ ...c, extra: 'yes' })
  }
  const { broker, atlas } = makeBroker({ policy })
  await broker.provision('i', { ...provision, parameters: {}, context: { platform: 'kubernetes', namespace: 'team-a' } }, false, {})
  const r = await broker.bind('i', 'b', bind, false, {})
  t.equal(r.credentials?.database, 'ns-team-a')
  t.equal(r.credentials?.username, 'b-rw')
  t.equal(r.credentials?.extra, 'yes')
  t.same(atlas.users.get('b-rw')?.roles, [{ roleName: 'read', databaseName: 'ns-team-a' }])

  const broken = makeBroker({ policy: { ...defaultPolicy, username: () => { throw new Error('nope') } } })
  await broken.broker.provision('i', provision, false, {})
  const err = await broken.broker.bind('i', 'b', bind, false, {}).catch((e: unknown) => e)
  t.type(err, InternalError)
  t.match((err as Error).message, /username/)
  t.equal(broken.atlas.users.size, 0)
})

t.test('unpredictable passwords are sealed in storage and returned identically on repeat', async t => {
  let n = 0
  const policy: Policy = { ...defaultPolicy, password: () => `random-password-${++n}`, predictableCredentials: false }
  const { broker, storage } = makeBroker({ policy })
  await broker.provision('i', provision, false, {})
  const first = await broker.bind('i', 'b', bind, false, {})
  const again = await broker.bind('i', 'b', bind, false, {})
  t.equal(first.credentials?.password, 'random-password-1')
  t.equal(again.credentials?.password, 'random-password-1')
  const record = await storage.getBinding('b')
  t.type(record?.sealedPassword, 'string')
  t.notOk(JSON.stringify(record).includes('random-password-1'), 'no plaintext password stored')
})

t.test('default credentials are never stored', async t => {
  const { broker, storage } = makeBroker()
  await broker.provision('i', provision, false, {})
  const r = await broker.bind('i', 'b', bind, false, {})
  const record = await storage.getBinding('b')
  t.notOk(JSON.stringify(record).includes(String(r.credentials?.password)))
  t.equal(record?.sealedPassword, undefined)
})

t.test('dropping databases on deprovision (opt-in): only when no other instance uses the database', async t => {
  const drops: Array<{ uri: string, database: string }> = []
  const databaseAdmin = { dropDatabase: async (uri: string, database: string) => { drops.push({ uri, database }) } }
  const { broker, atlas } = makeBroker({ settings: { dropDatabaseOnDeprovision: true }, databaseAdmin })
  const details = { serviceId: SERVICE_ID, planId: PLAN_ID }
  await broker.provision('a', { ...provision, parameters: { database: 'shared' } }, false, {})
  await broker.provision('b', { ...provision, parameters: { database: 'shared' } }, false, {})
  await broker.deprovision('a', details, false, {})
  t.same(drops, [], 'kept while instance b uses it')
  await broker.deprovision('b', details, false, {})
  t.equal(drops.length, 1)
  t.equal(drops[0]?.database, 'shared')
  t.match(drops[0]?.uri, /^mongodb\+srv:\/\/osb-drop-[0-9a-f]{24}:[^@]+@cluster0\.abcde\.mongodb\.net\/shared\?/)
  t.equal(atlas.users.size, 0, 'the temporary user is gone')
  t.ok(atlas.count('createDatabaseUser') === 1 && atlas.count('deleteDatabaseUser') === 1)
})

t.test('a failed drop fails the deprovision (5xx), removes the temporary user, and the retry finishes', async t => {
  const { DatabaseAdminError } = await import('../../src/ports/database-admin-port.js')
  let fail = true
  const databaseAdmin = { dropDatabase: async () => { if (fail) throw new DatabaseAdminError('connection refused') } }
  const { broker, atlas, storage } = makeBroker({ settings: { dropDatabaseOnDeprovision: true }, databaseAdmin })
  await broker.provision('a', provision, false, {})
  await t.rejects(broker.deprovision('a', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {}), ServiceUnavailableError)
  t.equal(atlas.users.size, 0)
  t.equal((await storage.getInstance('a'))?.state, 'deleting')
  fail = false
  await broker.deprovision('a', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {})
  t.equal((await storage.getInstance('a'))?.state, 'deleted')
})

t.test('by default databases are kept', async t => {
  const drops: string[] = []
  const { broker } = makeBroker({ databaseAdmin: { dropDatabase: async (_u: string, d: string) => { drops.push(d) } } })
  await broker.provision('a', provision, false, {})
  await broker.deprovision('a', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {})
  t.same(drops, [])
})

t.test('waiting for a user to propagate: few status calls once the typical time is known', async t => {
  const { broker, atlas } = makeBroker({ settings: { userPropagationPollMs: 20, userPropagationTimeoutMs: 5000 } })
  atlas.propagationMs = 300
  await broker.provision('i', provision, false, {})
  await broker.bind('i', 'learn', bind, false, {})
  const fixedPolling = Math.ceil(300 / 20) + 1
  const before = atlas.count('clusterChangeStatus')
  await broker.bind('i', 'b', bind, false, {})
  const calls = atlas.count('clusterChangeStatus') - before
  t.ok(calls <= 4, `${calls} status calls (fixed 20 ms polling would make about ${fixedPolling})`)
  t.equal(atlas.users.get('b')?.username, 'b')
})

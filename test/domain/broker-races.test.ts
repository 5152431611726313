/**
 * Races between binds, their platform retries, and deprovisions, ordered deterministically with held fake
 * calls: no answer may carry credentials whose Atlas user is gone, and no undo may remove another request's user.
 */
import t from 'tap'
import { type BindDetails, type ProvisionDetails, ConcurrencyError } from '../../src/ports/service-broker.js'
import { VersionConflictError } from '../../src/ports/storage-port.js'
import { makeBroker, PLAN_ID, SERVICE_ID } from '../helpers/broker.js'

const provision: ProvisionDetails = { serviceId: SERVICE_ID, planId: PLAN_ID, organizationGuid: 'o', spaceGuid: 's', parameters: { database: 'db1' } }
const bind: BindDetails = { serviceId: SERVICE_ID, planId: PLAN_ID }
const deprovision = { serviceId: SERVICE_ID, planId: PLAN_ID }

t.test('bind A, its retry B, then a deprovision: the deprovision waits (422); A and B answer working credentials', async t => {
  const { broker, atlas, storage } = makeBroker()
  await broker.provision('i', provision, false, {})
  const held = atlas.hold('createDatabaseUser')
  const a = broker.bind('i', 'b', bind, false, {})
  await held.reached
  const b = broker.bind('i', 'b', bind, false, {})
  const d = await broker.deprovision('i', deprovision, false, {}).catch((e: unknown) => e)
  t.type(d, ConcurrencyError, 'the deprovision is refused while the bind creates its user')
  t.equal((await storage.getInstance('i'))?.state, 'ready', 'the refused deprovision changed nothing')
  held.release()
  const [ra, rb] = await Promise.all([a, b])
  t.equal(ra.credentials?.password, rb.credentials?.password)
  t.equal(atlas.users.get('b')?.password, ra.credentials?.password, 'the user behind both answers exists with that password')
  // The platform's retried deprovision now removes everything.
  await broker.deprovision('i', deprovision, false, {})
  t.equal(atlas.users.size, 0)
})

t.test('a deprovision that claims the instance between a bind\'s checks and its claim: the bind gives up, no user', async t => {
  const { broker, atlas, storage } = makeBroker()
  await broker.provision('i', provision, false, {})
  storage.beforeNext('createBinding', async () => { await broker.deprovision('i', deprovision, false, {}) })
  const err = await broker.bind('i', 'b', bind, false, {}).catch((e: unknown) => e)
  t.type(err, ConcurrencyError)
  t.equal((await storage.getInstance('i'))?.state, 'deleted')
  t.equal(atlas.count('createDatabaseUser'), 0, 'no user was created')
  t.equal(atlas.users.size, 0)
  const record = await storage.getBinding('b')
  t.ok(record === undefined || record.state === 'deleted', 'no live binding record')
})

t.test('an undo leaves a user alone once another request has taken the binding over', async t => {
  let clock = Date.parse('2026-06-01T00:00:00Z')
  const { broker, atlas, storage } = makeBroker({ now: () => clock, settings: { leaseMs: 1000, operationBudgetMs: 600_000 } })
  await broker.provision('i', provision, false, {})
  // A creates its user, then stalls past its lease before marking the binding ready.
  const held = atlas.hold('clusterChangeStatus')
  const a = broker.bind('i', 'b', bind, false, {}).catch((e: unknown) => e)
  await held.reached
  clock += 5000
  // B takes over the expired claim and finishes the binding.
  const rb = await broker.bind('i', 'b', bind, false, {})
  t.equal((await storage.getBinding('b'))?.state, 'ready')
  held.release()
  const ra = await a
  t.ok(ra instanceof ConcurrencyError || (ra as { credentials?: unknown }).credentials !== undefined, 'A ends without harm')
  t.equal(atlas.users.get('b')?.password, rb.credentials?.password, 'B\'s user is still there')
  t.equal((await storage.getBinding('b'))?.state, 'ready', 'B\'s record is still there')
})

t.test('a storage version conflict is a 422 ConcurrencyError, never 503 "storage unavailable"', async t => {
  const { broker, storage } = makeBroker()
  await broker.provision('i', provision, false, {})
  storage.failNext('updateInstance', new VersionConflictError('instance i changed'))
  const err = await broker.update('i', { serviceId: SERVICE_ID, planId: PLAN_ID, parameters: {} }, false, {}).catch((e: unknown) => e)
  t.type(err, ConcurrencyError)
  t.equal((err as ConcurrencyError).statusCode, 422)
})

t.test('K4: an unbind while the bind creates its user is 422 ConcurrencyError; after the bind it succeeds', async t => {
  const { broker, atlas } = makeBroker()
  await broker.provision('i', provision, false, {})
  const held = atlas.hold('createDatabaseUser')
  const bound = broker.bind('i', 'b', bind, false, {})
  await held.reached
  await t.rejects(broker.unbind('i', 'b', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {}), ConcurrencyError)
  held.release()
  await bound
  await broker.unbind('i', 'b', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {})
  t.equal(atlas.users.size, 0)
})

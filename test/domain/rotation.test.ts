/**
 * OSB binding rotation (I11): a bind naming predecessor_binding_id makes a new Atlas user with the
 * predecessor's roles and new credentials; both work until each is unbound; a wrong predecessor is a 400
 * that changes nothing.
 */
import t from 'tap'
import { defaultPolicy } from '../../src/domain/default-policy.js'
import { AtlasUnavailableError } from '../../src/ports/atlas-port.js'
import { type BindDetails, type ProvisionDetails, BadRequestError, ServiceUnavailableError } from '../../src/ports/service-broker.js'
import { makeBroker, PLAN_ID, SERVICE_ID } from '../helpers/broker.js'

const provision: ProvisionDetails = { serviceId: SERVICE_ID, planId: PLAN_ID, organizationGuid: 'o', spaceGuid: 's', parameters: { database: 'db1' } }
const bind: BindDetails = { serviceId: SERVICE_ID, planId: PLAN_ID }
const unbind = { serviceId: SERVICE_ID, planId: PLAN_ID }

t.test('I11: a rotation gets a new user with the predecessor\'s roles; both work until each is unbound', async t => {
  // New bindings would now get other roles: the built-in roles hook gives a rotation the predecessor's.
  let roleName = 'readWrite'
  const { broker, atlas } = makeBroker({ policy: { ...defaultPolicy, roles: b => b.predecessor?.roles ?? [{ roleName, databaseName: b.database }] } })
  await broker.provision('i', provision, false, {})
  const old = await broker.bind('i', 'b-old', bind, false, {})
  roleName = 'read'
  const rotated = await broker.bind('i', 'b-new', { ...bind, predecessorBindingId: 'b-old' }, false, {})
  t.equal(rotated.alreadyExists, false)
  t.not(rotated.credentials?.password, old.credentials?.password, 'new credentials')
  t.not(rotated.credentials?.username, old.credentials?.username)
  t.same(atlas.users.get('b-new')?.roles, [{ roleName: 'readWrite', databaseName: 'db1' }], 'the predecessor\'s roles')
  t.ok(atlas.users.has('b-old') && atlas.users.has('b-new'), 'both work')
  const again = await broker.bind('i', 'b-new', { ...bind, predecessorBindingId: 'b-old' }, false, {})
  t.equal(again.alreadyExists, true)
  t.equal(again.credentials?.password, rotated.credentials?.password, 'an identical repeat: 200 with the same credentials')
  await broker.unbind('i', 'b-old', unbind, false, {})
  t.ok(atlas.users.has('b-new') && !atlas.users.has('b-old'), 'unbinding the predecessor leaves the successor')
})

t.test('I11: an unknown, deleted or foreign predecessor, or one on a plan without rotation, is a 400 that creates nothing', async t => {
  const { broker, atlas, storage } = makeBroker()
  await broker.provision('i', provision, false, {})
  await broker.provision('other', { ...provision, parameters: { database: 'db2' } }, false, {})
  await broker.bind('other', 'foreign', bind, false, {})
  await broker.bind('i', 'gone', bind, false, {})
  await broker.unbind('i', 'gone', unbind, false, {})
  const users = atlas.users.size
  for (const predecessor of ['nope', 'gone', 'foreign', 'new']) {
    const err = await broker.bind('i', 'new', { ...bind, predecessorBindingId: predecessor }, false, {}).catch((e: unknown) => e)
    t.type(err, BadRequestError, predecessor)
  }
  t.equal(atlas.users.size, users, 'no user created')
  t.equal(await storage.getBinding('new'), undefined, 'no record')
})

t.test('I11: two rotations of one predecessor at once: two working successors', async t => {
  const { broker, atlas } = makeBroker()
  await broker.provision('i', provision, false, {})
  await broker.bind('i', 'p', bind, false, {})
  atlas.delay('createDatabaseUser', 30)
  const [a, b] = await Promise.all([
    broker.bind('i', 's1', { ...bind, predecessorBindingId: 'p' }, false, {}),
    broker.bind('i', 's2', { ...bind, predecessorBindingId: 'p' }, false, {})
  ])
  t.not(a.credentials?.password, b.credentials?.password)
  t.ok(atlas.users.has('s1') && atlas.users.has('s2') && atlas.users.has('p'))
})

t.test('policies see a rotation\'s predecessor and decide its roles', async t => {
  const seen: unknown[] = []
  const { broker, atlas } = makeBroker({
    policy: {
      ...defaultPolicy,
      roles: b => { seen.push(b.predecessor); return b.predecessor === undefined ? [{ roleName: 'readWrite', databaseName: b.database }] : [{ roleName: 'read', databaseName: b.database }] }
    }
  })
  await broker.provision('i', provision, false, {})
  await broker.bind('i', 'p', bind, false, {})
  await broker.bind('i', 's', { ...bind, predecessorBindingId: 'p' }, false, {})
  t.same(seen, [undefined, { bindingId: 'p', username: 'p', roles: [{ roleName: 'readWrite', databaseName: 'db1' }], auth: 'scram' }])
  t.same(atlas.users.get('s')?.roles, [{ roleName: 'read', databaseName: 'db1' }], 'the policy narrowed the successor\'s roles')
})

t.test('a rotation under faults: a successor that fails half-way leaves nothing, the predecessor keeps working, a retry succeeds', async t => {
  const { broker, atlas, storage } = makeBroker()
  await broker.provision('i', provision, false, {})
  const old = await broker.bind('i', 'p', bind, false, {})
  // The user is created but the answer is lost, then the propagation check fails: the undo must remove it.
  atlas.loseAnswerNext('createDatabaseUser', new AtlasUnavailableError('timeout'))
  await t.rejects(broker.bind('i', 's', { ...bind, predecessorBindingId: 'p' }, false, {}), ServiceUnavailableError)
  t.notOk(atlas.users.has('s'), 'no half-made successor user')
  t.equal(await storage.getBinding('s'), undefined, 'no successor record')
  // The user is made, then reading the connection strings fails: the undo removes the user again.
  atlas.failNext('getCluster', new AtlasUnavailableError('down'))
  await t.rejects(broker.bind('i', 's', { ...bind, predecessorBindingId: 'p' }, false, {}), ServiceUnavailableError)
  t.notOk(atlas.users.has('s'), 'a failure after the user was made removes it too')
  t.equal(await storage.getBinding('s'), undefined)
  const successor = await broker.bind('i', 's', { ...bind, predecessorBindingId: 'p' }, false, {})
  t.ok(atlas.users.has('p') && atlas.users.has('s'), 'both work after the retry')
  t.equal(atlas.users.get('p')?.password, old.credentials?.password, 'the predecessor\'s password never changed')
  t.not(successor.credentials?.password, old.credentials?.password)
})

t.test('two rotations of one binding id at once make one successor user', async t => {
  const { broker, atlas } = makeBroker()
  await broker.provision('i', provision, false, {})
  await broker.bind('i', 'p', bind, false, {})
  atlas.delay('createDatabaseUser', 30)
  const [a, b] = await Promise.all([
    broker.bind('i', 's', { ...bind, predecessorBindingId: 'p' }, false, {}),
    broker.bind('i', 's', { ...bind, predecessorBindingId: 'p' }, false, {})
  ])
  t.equal(atlas.count('createDatabaseUser'), 2, 'one Atlas user made for the successor (and the predecessor\'s before)')
  t.equal(a.credentials?.password, b.credentials?.password, 'both answers carry the same credentials')
  t.same([a.alreadyExists, b.alreadyExists].sort(), [false, true])
})

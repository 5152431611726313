/**
 * OSB binding rotation (I11): a bind naming predecessor_binding_id makes a new Atlas user with the
 * predecessor's roles and new credentials; both work until each is unbound; a wrong predecessor is a 400
 * that changes nothing.
 */
import t from 'tap'
import { defaultPolicy } from '../../src/domain/default-policy.js'
import { type BindDetails, type ProvisionDetails, BadRequestError } from '../../src/ports/service-broker.js'
import { makeBroker, PLAN_ID, SERVICE_ID } from '../helpers/broker.js'

const provision: ProvisionDetails = { serviceId: SERVICE_ID, planId: PLAN_ID, organizationGuid: 'o', spaceGuid: 's', parameters: { database: 'db1' } }
const bind: BindDetails = { serviceId: SERVICE_ID, planId: PLAN_ID }
const unbind = { serviceId: SERVICE_ID, planId: PLAN_ID }

t.test('I11: a rotation gets a new user with the predecessor\'s roles; both work until each is unbound', async t => {
  // The policy would now give other roles: a rotation must keep what the predecessor was granted.
  let roleName = 'readWrite'
  const { broker, atlas } = makeBroker({ policy: { ...defaultPolicy, roles: b => [{ roleName, databaseName: b.database }] } })
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

/** Cluster-plan use cases against the stateful fake Atlas: ownership, failures and their OSB reports. */
import t from 'tap'
import { DEDICATED_PLAN_IDS } from '../../src/app/default-catalog.js'
import { defaultPolicy } from '../../src/domain/default-policy.js'
import { AtlasRateLimitedError, AtlasUnavailableError } from '../../src/ports/atlas-port.js'
import { BadRequestError, InstanceConflictError, InternalError, ServiceUnavailableError, type ProvisionDetails } from '../../src/ports/service-broker.js'
import { makeBroker, SERVICE_ID, type TestBroker } from '../helpers/broker.js'

const m10: ProvisionDetails = { serviceId: SERVICE_ID, planId: DEDICATED_PLAN_IDS.m10, organizationGuid: 'o', spaceGuid: 's' }

t.test('a cluster that disappears while CREATING fails the provision with a description', async t => {
  const { broker, atlas } = makeBroker()
  const spec = await broker.provision('i', m10, true, {})
  t.equal(spec.isAsync, true)
  const name = [...atlas.clusters.keys()].find(n => n !== 'Cluster0')!
  t.equal((await broker.lastOperation('i', {})).state, 'in progress')
  atlas.clusters.delete(name)
  const lo = await broker.lastOperation('i', {})
  t.equal(lo.state, 'failed')
  t.match(lo.description, /disappeared/)
  t.equal(lo.instanceUsable, undefined, 'A11: not on a failed provision')
})

t.test('an update whose cluster vanished fails with instance_usable false', async t => {
  const { broker, atlas } = makeBroker()
  await broker.provision('i', m10, true, {})
  const name = [...atlas.clusters.keys()].find(n => n !== 'Cluster0')!
  atlas.clusters.get(name)!.stateName = 'IDLE'
  t.equal((await broker.lastOperation('i', {})).state, 'succeeded')
  await broker.update('i', { serviceId: SERVICE_ID, planId: DEDICATED_PLAN_IDS.m20 }, true, {})
  atlas.clusters.delete(name)
  const lo = await broker.lastOperation('i', {})
  t.equal(lo.state, 'failed')
  t.equal(lo.instanceUsable, false)
  t.equal(lo.updateRepeatable, false)
})

async function readyM10 (): Promise<TestBroker & { name: string }> {
  const made = makeBroker()
  await made.broker.provision('i', m10, true, {})
  const name = [...made.atlas.clusters.keys()].find(n => n !== 'Cluster0')!
  made.atlas.clusters.get(name)!.stateName = 'IDLE'
  await made.broker.lastOperation('i', {})
  return { ...made, name }
}

t.test('a resize whose answer was lost but which Atlas applied goes on as accepted (202) and succeeds', async t => {
  const { broker, atlas, storage, name } = await readyM10()
  atlas.loseAnswerNext('updateCluster', new AtlasUnavailableError('timed out'))
  const spec = await broker.update('i', { serviceId: SERVICE_ID, planId: DEDICATED_PLAN_IDS.m20 }, true, {})
  t.equal(spec.isAsync, true, 'accepted: Atlas is UPDATING the cluster')
  t.equal((await storage.getInstance('i'))?.state, 'updating')
  atlas.clusters.get(name)!.stateName = 'IDLE'
  t.equal((await broker.lastOperation('i', {})).state, 'succeeded')
  t.equal((await storage.getInstance('i'))?.planId, DEDICATED_PLAN_IDS.m20, 'the record follows what Atlas did')
})

t.test('a resize whose retried PATCH ends rate-limited after an earlier attempt was applied: also accepted', async t => {
  const { broker, atlas, storage } = await readyM10()
  atlas.loseAnswerNext('updateCluster', new AtlasRateLimitedError('rate limited', { status: 429, errorCode: 'RATE_LIMITED' }))
  const spec = await broker.update('i', { serviceId: SERVICE_ID, planId: DEDICATED_PLAN_IDS.m20 }, true, {})
  t.equal(spec.isAsync, true)
  t.equal((await storage.getInstance('i'))?.state, 'updating')
})

t.test('a resize that failed without reaching Atlas is a 503 and changes nothing', async t => {
  const { broker, atlas, storage, name } = await readyM10()
  atlas.failNext('updateCluster', new AtlasUnavailableError('down'))
  await t.rejects(broker.update('i', { serviceId: SERVICE_ID, planId: DEDICATED_PLAN_IDS.m20 }, true, {}), ServiceUnavailableError)
  const record = await storage.getInstance('i')
  t.equal(record?.state, 'ready')
  t.equal(record?.planId, DEDICATED_PLAN_IDS.m10)
  t.equal(atlas.clusters.get(name)?.stateName, 'IDLE', 'Atlas was not touched')
})

t.test('a resize whose outcome cannot be read (its answer and the cluster both unavailable) is accepted, and the polls follow the tier Atlas reports', async t => {
  t.test('Atlas took it: the update succeeds and the record moves to the new plan', async t => {
    const { broker, atlas, storage, name } = await readyM10()
    atlas.loseAnswerNext('updateCluster', new AtlasUnavailableError('timed out'))
    atlas.failNext('getCluster', new AtlasUnavailableError('down'))
    const spec = await broker.update('i', { serviceId: SERVICE_ID, planId: DEDICATED_PLAN_IDS.m20 }, true, {})
    t.equal(spec.isAsync, true, 'accepted, not a 503 that would leave the record on M10 while Atlas resizes')
    atlas.clusters.get(name)!.stateName = 'IDLE'
    t.equal((await broker.lastOperation('i', {})).state, 'succeeded')
    t.equal((await storage.getInstance('i'))?.planId, DEDICATED_PLAN_IDS.m20)
  })
  t.test('Atlas did not: the update fails, repeatable, and the record stays on the old plan, as the cluster does', async t => {
    const { broker, atlas, storage, name } = await readyM10()
    atlas.failNext('updateCluster', new AtlasUnavailableError('down'))
    atlas.failNext('getCluster', new AtlasUnavailableError('down'))
    const spec = await broker.update('i', { serviceId: SERVICE_ID, planId: DEDICATED_PLAN_IDS.m20 }, true, {})
    t.equal(spec.isAsync, true)
    const lo = await broker.lastOperation('i', {})
    t.equal(lo.state, 'failed')
    t.equal(lo.updateRepeatable, true)
    t.equal(lo.instanceUsable, true)
    const record = await storage.getInstance('i')
    t.equal(record?.planId, DEDICATED_PLAN_IDS.m10)
    t.equal(record?.state, 'ready')
    t.equal(atlas.clusters.get(name)?.stateName, 'IDLE', 'Atlas was not touched')
  })
})

t.test('a cluster name already taken: adopted when tagged with this instance, refused otherwise', async t => {
  const { broker, atlas, storage } = makeBroker()
  const name = defaultPolicy.clusterName({ refuse: (m: string): never => { throw new Error(m) }, instanceId: 'mine', serviceId: SERVICE_ID, planId: m10.planId, organizationGuid: 'o', spaceGuid: 's', parameters: {}, context: {} })
  await atlas.createCluster({ name, kind: 'dedicated', instanceSize: 'M10', providerName: 'AWS', regionName: 'US_EAST_1', tags: [{ key: 'osb-instance-id', value: 'mine' }] })
  t.equal((await broker.provision('mine', m10, true, {})).isAsync, true, 'adopted')
  const other = defaultPolicy.clusterName({ refuse: (m: string): never => { throw new Error(m) }, instanceId: 'theirs', serviceId: SERVICE_ID, planId: m10.planId, organizationGuid: 'o', spaceGuid: 's', parameters: {}, context: {} })
  await atlas.createCluster({ name: other, kind: 'dedicated', instanceSize: 'M10', providerName: 'AWS', regionName: 'US_EAST_1', tags: [] })
  await t.rejects(broker.provision('theirs', m10, true, {}), InstanceConflictError)
  t.equal(await storage.getInstance('theirs'), undefined, 'no record left')
})

t.test('a clusterName hook returning an invalid name is a 500 naming the hook, before anything is created', async t => {
  const { broker, atlas, storage } = makeBroker({ policy: { ...defaultPolicy, clusterName: () => 'not a valid name!' } })
  const err = await broker.provision('i', m10, true, {}).catch((e: unknown) => e)
  t.type(err, InternalError)
  t.match((err as Error).message, /clusterName/)
  t.equal(atlas.count('createCluster'), 0)
  t.equal(await storage.getInstance('i'), undefined)
})

t.test('bind during a resize accepts the target plan id (the platform already holds it) and the previous one', async t => {
  const { broker, atlas } = await readyM10()
  await broker.update('i', { serviceId: SERVICE_ID, planId: DEDICATED_PLAN_IDS.m20 }, true, {})
  const toTarget = await broker.bind('i', 'b-target', { serviceId: SERVICE_ID, planId: DEDICATED_PLAN_IDS.m20 }, false, {})
  t.type(toTarget.credentials?.password, 'string', 'target plan id accepted while UPDATING')
  const toPrevious = await broker.bind('i', 'b-previous', { serviceId: SERVICE_ID, planId: DEDICATED_PLAN_IDS.m10 }, false, {})
  t.type(toPrevious.credentials?.password, 'string', 'previous plan id accepted too')
  await t.rejects(broker.bind('i', 'b-other', { serviceId: SERVICE_ID, planId: DEDICATED_PLAN_IDS.m30 }, false, {}), BadRequestError, 'any other plan is refused')
  t.equal(atlas.users.size, 2)
})

/** Sweep: orphans are the broker's Atlas resources without a live record; others are left alone. */
import t from 'tap'
import { MemoryStorage } from '../../src/adapters/storage/memory-storage.js'
import { DEDICATED_PLAN_IDS } from '../../src/app/default-catalog.js'
import { deleteOrphans, findOrphans, sweepAtlas } from '../../src/domain/sweep.js'
import { makeBroker, PLAN_ID, SERVICE_ID } from '../helpers/broker.js'

t.test('L2: finds users and clusters whose records are gone, and deletes only those', async t => {
  const storage = new MemoryStorage()
  const { broker, atlas } = makeBroker({ storage })
  await broker.provision('live', { serviceId: SERVICE_ID, planId: PLAN_ID, organizationGuid: 'o', spaceGuid: 's' }, false, {})
  await broker.bind('live', 'kept', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {})
  await broker.bind('live', 'lost', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {})
  await broker.provision('cl', { serviceId: SERVICE_ID, planId: DEDICATED_PLAN_IDS.flex, organizationGuid: 'o', spaceGuid: 's' }, true, {})
  // Records lost (e.g. a restore of an older backup of the broker's database):
  const lost = await storage.getBinding('lost')
  await storage.deleteBinding('lost', lost!.version)
  const cl = await storage.getInstance('cl')
  await storage.deleteInstance('cl', cl!.version)
  // Something the broker did not create is never touched:
  atlas.users.set('human', { username: 'human', password: 'x'.repeat(10), roles: [], scopes: [], labels: [] })

  const progress: string[] = []
  const orphans = await findOrphans(atlas, storage, (checked, what, finished) => progress.push(`${checked} ${what}${finished ? ' (finished)' : ''}`))
  t.same(orphans.map(o => `${o.kind}:${o.owner}`).sort(), ['cluster:cl', 'database-user:lost'])
  t.ok(progress.includes('3 database users (finished)'), progress.join(', '))
  t.ok(progress.includes('1 clusters (finished)'), progress.join(', '))
  const failed = await deleteOrphans(atlas, orphans)
  t.same(failed, [])
  t.same([...atlas.users.keys()].sort(), ['human', 'kept'])
  t.same([...atlas.clusters.keys()], ['Cluster0'])
})

t.test('L2: users are checked a page at a time as they are read (bounded memory), orphans found on every page', async t => {
  const storage = new MemoryStorage()
  const { atlas } = makeBroker({ storage })
  const label = (binding: string) => [{ key: 'managed-by', value: 'atlas-broker' }, { key: 'osb-binding-id', value: binding }]
  for (let n = 0; n < 250; n++) atlas.users.set(`u${n}`, { username: `u${n}`, password: 'x'.repeat(10), roles: [], scopes: [], labels: label(`gone-${n}`) })
  const progress: string[] = []
  const orphans = await findOrphans(atlas, storage, (checked, what, finished) => progress.push(`${checked} ${what}${finished ? ' (finished)' : ''}`))
  t.equal(orphans.length, 250)
  t.equal(atlas.count('databaseUserPages'), 3, 'three pages of 100')
  t.equal(atlas.count('listDatabaseUsers'), 0, 'never the whole list at once')
  t.same(progress.filter(p => p.includes('users')), ['100 database users', '200 database users', '250 database users', '250 database users (finished)'])
})

t.test('L2: drift the other way: a live binding whose user is gone is reported; one that Atlas expired is expected', async t => {
  let clock = Date.now()
  const storage = new MemoryStorage()
  const { broker, atlas } = makeBroker({ storage, now: () => clock })
  await broker.provision('i', { serviceId: SERVICE_ID, planId: PLAN_ID, organizationGuid: 'o', spaceGuid: 's' }, false, {})
  await broker.bind('i', 'fine', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {})
  await broker.bind('i', 'deleted-by-hand', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {})
  await broker.bind('i', 'temporary', { serviceId: SERVICE_ID, planId: PLAN_ID, parameters: { expiresInHours: 1 } }, false, {})
  atlas.users.delete('deleted-by-hand') // someone removed it in the Atlas UI
  clock += 3600_000 + 1
  atlas.users.delete('temporary') // Atlas deleted the temporary user at its deleteAfterDate
  const progress: string[] = []
  const report = await sweepAtlas(atlas, storage, (checked, what, finished) => { if (finished) progress.push(`${checked} ${what}`) }, () => clock)
  t.same(report.orphans, [])
  t.same(report.missingUsers, [{ bindingId: 'deleted-by-hand', instanceId: 'i', username: 'deleted-by-hand' }], 'drift')
  t.equal(report.expired, 1, 'the expired one is expected, not drift')
  t.ok(progress.includes('3 bindings'), progress.join(', '))
})

t.test('L2: passwordless users are found where Atlas keeps them; orphans are deleted there', async t => {
  const storage = new MemoryStorage()
  const { atlas } = makeBroker({ storage })
  atlas.users.set('arn:aws:iam::123456789012:role/x', {
    username: 'arn:aws:iam::123456789012:role/x', auth: 'aws-iam', password: '', roles: [], scopes: [],
    labels: [{ key: 'managed-by', value: 'atlas-broker' }, { key: 'osb-binding-id', value: 'gone' }]
  })
  const { orphans, missingUsers } = await sweepAtlas(atlas, storage)
  t.match(orphans, [{ kind: 'database-user', auth: 'aws-iam', owner: 'gone' }])
  t.same(missingUsers, [])
  t.same(await deleteOrphans(atlas, orphans), [])
  t.equal(atlas.users.size, 0, 'deleted on $external')
})

/** The real Atlas adapter against the simulator over loopback HTTP, fault injection included. */
import t from 'tap'
import {
  AtlasAuthError, AtlasRateLimitedError, AtlasRequestError, AtlasUnavailableError, ClusterNotFoundError, DatabaseUserExistsError,
  DatabaseUserNotFoundError, DuplicateClusterNameError, ProjectNotFoundError, TerminationProtectedError
} from '../../../src/ports/atlas-port.js'
import { HttpAtlasAdapter } from '../../../src/adapters/atlas/http-atlas-adapter.js'
import { startSim } from '../../helpers/atlas-sim.js'

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

async function until (t: { fail: (m: string) => void }, what: string, check: () => Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await sleep(20)
  }
  t.fail(`timed out waiting for ${what}`)
}

const user = (username: string): Parameters<HttpAtlasAdapter['createDatabaseUser']>[0] => ({
  username, password: 'a-strong-password', roles: [{ roleName: 'readWrite', databaseName: 'app' }], scopes: ['Cluster0'],
  labels: [{ key: 'osb-binding-id', value: username }]
})

t.test('digest: one challenge when cold, then one round trip per call (nonce reused, nc increasing)', async t => {
  const { sim, atlas, exchanges } = await startSim(t)
  await atlas.getProject()
  t.equal(sim.stats.challenges, 1)
  const before = sim.stats.requests
  for (let i = 0; i < 10; i++) await atlas.getCluster('Cluster0')
  t.equal(sim.stats.requests - before, 10, 'warm: exactly one HTTP request per call')
  t.equal(sim.stats.challenges, 1)
  t.ok(exchanges.every(e => e.status !== undefined))
})

t.test('keep-alive: sequential calls reuse one connection', async t => {
  const { sim, atlas } = await startSim(t)
  for (let i = 0; i < 5; i++) await atlas.getCluster('Cluster0')
  const warm = sim.stats.connections
  t.ok(warm <= 2, `${warm} connection(s) while warming up`)
  for (let i = 0; i < 30; i++) await atlas.getCluster('Cluster0')
  t.equal(sim.stats.connections, warm, 'no new connection for 30 more calls')
})

t.test('digest: concurrent calls on one warm client all succeed', async t => {
  const { atlas } = await startSim(t)
  await atlas.getProject()
  const results = await Promise.all(Array.from({ length: 25 }, () => atlas.getCluster('Cluster0')))
  t.equal(results.length, 25)
})

t.test('digest: a stale nonce is replaced transparently', async t => {
  const { sim, atlas } = await startSim(t, { nonceTtlMs: 50 })
  await atlas.getProject()
  await sleep(80)
  const project = await atlas.getProject()
  t.equal(project.id, sim.projectId)
  t.equal(sim.stats.challenges, 2)
})

t.test('digest: wrong keys fail fast with AtlasAuthError', async t => {
  const { sim, url } = await startSim(t)
  const bad = new HttpAtlasAdapter({ baseUrl: url, projectId: sim.projectId, credentials: { kind: 'digest', publicKey: sim.publicKey, privateKey: 'wrong' } })
  t.teardown(() => bad.close())
  const before = sim.stats.requests
  await t.rejects(bad.getProject(), AtlasAuthError)
  t.ok(sim.stats.requests - before <= 3, 'bounded attempts')
})

t.test('service account: one token for many calls; a rejected token is refreshed once', async t => {
  const { sim, atlas } = await startSim(t, { tokenTtlSeconds: 3600 }, { auth: 'service-account' })
  await atlas.getProject()
  await atlas.getCluster('Cluster0')
  t.equal(sim.stats.challenges, 0)
  // Forget every token server-side: the client must refresh once and retry.
  sim.auth.expireTokens()
  const cluster = await atlas.getCluster('Cluster0')
  t.equal(cluster.name, 'Cluster0')
})

t.test('service account: the token is refreshed shortly before it expires', async t => {
  const { sim, atlas } = await startSim(t, { tokenTtlSeconds: 61 }, { auth: 'service-account' })
  await atlas.getProject()
  await atlas.getProject()
  t.equal(sim.stats.tokensIssued, 1, 'cached while fresh')
  await sleep(1100)
  await atlas.getProject()
  t.equal(sim.stats.tokensIssued, 2, 'refreshed within a minute of expiry, before Atlas refuses it')
})

t.test('service account: wrong secret is AtlasAuthError', async t => {
  const { sim, url } = await startSim(t)
  const bad = new HttpAtlasAdapter({ baseUrl: url, projectId: sim.projectId, credentials: { kind: 'service-account', clientId: sim.clientId, clientSecret: 'nope' } })
  t.teardown(() => bad.close())
  await t.rejects(bad.getProject(), AtlasAuthError)
})

t.test('unknown project is ProjectNotFoundError', async t => {
  const { sim, url } = await startSim(t)
  const other = new HttpAtlasAdapter({ baseUrl: url, projectId: 'ffffffffffffffffffffffff', credentials: { kind: 'digest', publicKey: sim.publicKey, privateKey: sim.privateKey } })
  t.teardown(() => other.close())
  await t.rejects(other.getProject(), ProjectNotFoundError)
})

t.test('dedicated cluster lifecycle: CREATING → IDLE, UPDATING → IDLE, DELETING → gone', async t => {
  const { sim, atlas } = await startSim(t, { delays: { clusterCreateMs: 100, clusterUpdateMs: 100, clusterDeleteMs: 100, flexCreateMs: 0, userPropagationMs: 0 } })
  const created = await atlas.createCluster({ name: 'inst-1', kind: 'dedicated', instanceSize: 'M10', providerName: 'AWS', regionName: 'US_EAST_1', tags: [{ key: 'osb-instance-id', value: 'i1' }] })
  t.equal(created.stateName, 'CREATING')
  t.same(created.connectionStrings, {}, 'no connection strings while CREATING')
  await t.rejects(atlas.createCluster({ name: 'inst-1', kind: 'flex', providerName: 'AWS', regionName: 'US_EAST_1', tags: [] }), DuplicateClusterNameError)
  await until(t, 'IDLE', async () => (await atlas.getCluster('inst-1')).stateName === 'IDLE')
  const idle = await atlas.getCluster('inst-1')
  t.equal(idle.instanceSize, 'M10')
  t.match(idle.connectionStrings.standardSrv, /^mongodb\+srv:\/\//)
  t.same(idle.tags, [{ key: 'osb-instance-id', value: 'i1' }])

  const updating = await atlas.updateCluster('inst-1', 'dedicated', { instanceSize: 'M20' })
  t.equal(updating.stateName, 'UPDATING')
  await until(t, 'resize applied', async () => {
    const c = await atlas.getCluster('inst-1')
    return c.stateName === 'IDLE' && c.instanceSize === 'M20'
  })

  await atlas.updateCluster('inst-1', 'dedicated', { terminationProtectionEnabled: true })
  await t.rejects(atlas.deleteCluster('inst-1', 'dedicated'), TerminationProtectedError)
  await atlas.updateCluster('inst-1', 'dedicated', { terminationProtectionEnabled: false })
  await atlas.deleteCluster('inst-1', 'dedicated')
  t.equal((await atlas.getCluster('inst-1')).stateName, 'DELETING')
  await until(t, 'gone', async () => !sim.clusterNames().includes('inst-1'))
  await t.rejects(atlas.getCluster('inst-1'), ClusterNotFoundError)
  await t.rejects(atlas.deleteCluster('inst-1', 'dedicated'), ClusterNotFoundError)
})

t.test('flex clusters: create, get through the cluster API fallback, list, delete', async t => {
  const { atlas } = await startSim(t)
  const flex = await atlas.createCluster({ name: 'flex-1', kind: 'flex', providerName: 'AWS', regionName: 'US_EAST_1', tags: [] })
  t.equal(flex.kind, 'flex')
  t.match(flex.connectionStrings.standardSrv, /^mongodb\+srv:/, 'standardSrv present at creation')
  const got = await atlas.getCluster('flex-1')
  t.equal(got.kind, 'flex')
  t.equal(got.instanceSize, 'FLEX')
  const all = await atlas.listClusters()
  t.same(all.map(c => c.name).sort(), ['Cluster0', 'flex-1'])
  await atlas.updateCluster('flex-1', 'flex', { tags: [{ key: 'a', value: 'b' }] })
  await atlas.deleteCluster('flex-1', 'flex')
})

t.test('lists follow every page', async t => {
  const { atlas } = await startSim(t, { seedClusters: ['c1', 'c2', 'c3', 'c4', 'c5'] }, { pageSize: 2 })
  const clusters = await atlas.listClusters()
  t.equal(clusters.length, 5)
  for (let i = 0; i < 5; i++) await atlas.createDatabaseUser(user(`u${i}`))
  t.equal((await atlas.listDatabaseUsers()).length, 5)
})

t.test('database users: create, conflict, get, update, propagation status, delete, not found', async t => {
  const { sim, atlas } = await startSim(t, { delays: { clusterCreateMs: 0, clusterUpdateMs: 0, clusterDeleteMs: 0, flexCreateMs: 0, userPropagationMs: 150 } })
  const created = await atlas.createDatabaseUser(user('b-1'))
  t.same(created.scopes, ['Cluster0'])
  t.equal(await atlas.clusterChangeStatus('Cluster0'), 'PENDING', 'new users are PENDING')
  await until(t, 'APPLIED', async () => await atlas.clusterChangeStatus('Cluster0') === 'APPLIED')
  await t.rejects(atlas.createDatabaseUser(user('b-1')), DatabaseUserExistsError)
  const got = await atlas.getDatabaseUser('b-1')
  t.same(got.labels, [{ key: 'osb-binding-id', value: 'b-1' }])
  await atlas.updateDatabaseUser('b-1', { password: 'another-password', roles: [{ roleName: 'read', databaseName: 'app' }] })
  t.equal(sim.databaseUsers()[0]?.password, 'another-password')
  t.equal(await atlas.clusterChangeStatus('Cluster0'), 'PENDING', 'changes propagate too')
  await atlas.deleteDatabaseUser('b-1')
  await t.rejects(atlas.getDatabaseUser('b-1'), DatabaseUserNotFoundError)
  await t.rejects(atlas.deleteDatabaseUser('b-1'), DatabaseUserNotFoundError)
  const odd = await atlas.createDatabaseUser(user('weird/name with space'))
  t.equal(odd.username, 'weird/name with space', 'usernames are URL-encoded in paths')
  await atlas.deleteDatabaseUser('weird/name with space')
})

t.test('Atlas rejects invalid input: the detail is kept, the password never', async t => {
  const { atlas } = await startSim(t)
  const err = await atlas.createDatabaseUser({ ...user('short'), password: 'short' }).catch((e: unknown) => e)
  t.type(err, AtlasRequestError)
  t.match((err as Error).message, /password/)
  t.notOk((err as Error).message.includes('short"'))
})

t.test('project limits: database users and clusters', async t => {
  const { atlas } = await startSim(t, { maxDatabaseUsers: 2, maxClusters: 2 })
  await atlas.createDatabaseUser(user('a'))
  await atlas.createDatabaseUser(user('b'))
  await t.rejects(atlas.createDatabaseUser(user('c')), AtlasRequestError)
  await atlas.createCluster({ name: 'x', kind: 'flex', providerName: 'AWS', regionName: 'US_EAST_1', tags: [] })
  await t.rejects(atlas.createCluster({ name: 'y', kind: 'flex', providerName: 'AWS', regionName: 'US_EAST_1', tags: [] }), AtlasRequestError)
})

t.test('faults: 5xx on an idempotent call is retried; on a create it is not', async t => {
  const { sim, atlas, exchanges } = await startSim(t)
  sim.addFault({ kind: 'status', status: 500, method: 'GET', path: '/clusters/Cluster0', times: 2 })
  const cluster = await atlas.getCluster('Cluster0')
  t.equal(cluster.name, 'Cluster0')
  t.equal(exchanges.filter(e => e.status === 500).length, 2)
  sim.addFault({ kind: 'status', status: 503, method: 'POST', path: '/databaseUsers', times: 1 })
  const created = await atlas.createDatabaseUser(user('p'))
  t.equal(created.username, 'p', 'a 503 (not processed) on POST is retried')
  t.equal(sim.databaseUsers().length, 1, 'and the retry went through once')
  sim.addFault({ kind: 'status', status: 500, method: 'POST', path: '/databaseUsers', times: 1 })
  await t.rejects(atlas.createDatabaseUser(user('q')), AtlasUnavailableError, 'a 500 on POST is not retried')
})

t.test('faults: 429 honours Retry-After and then succeeds; a storm ends with AtlasRateLimitedError', async t => {
  const { sim, atlas } = await startSim(t)
  await atlas.getProject()
  sim.addFault({ kind: 'rate-limit', retryAfterSeconds: 0.2, times: 1, path: '/clusters' })
  const started = Date.now()
  await atlas.getCluster('Cluster0')
  t.ok(Date.now() - started >= 190, 'waited for Retry-After')
  sim.addFault({ kind: 'rate-limit', retryAfterSeconds: 0.05, path: '/clusters' })
  await t.rejects(atlas.getCluster('Cluster0'), AtlasRateLimitedError)
})

t.test('the token bucket limits requests with 429 + Retry-After', async t => {
  const { sim, atlas } = await startSim(t)
  await atlas.getProject()
  sim.setRateLimit(2, 4)
  const results = await Promise.all(Array.from({ length: 5 }, () => atlas.getCluster('Cluster0')))
  t.equal(results.length, 5, 'all eventually served after waiting')
})

t.test('faults: dropped connections and latency beyond the timeout are retried for idempotent calls', async t => {
  const { sim, atlas } = await startSim(t, {}, { requestTimeoutMs: 150 })
  await atlas.getProject()
  sim.addFault({ kind: 'drop', path: '/clusters/Cluster0', times: 1 })
  t.equal((await atlas.getCluster('Cluster0')).name, 'Cluster0')
  sim.addFault({ kind: 'latency', ms: 400, path: '/clusters/Cluster0', times: 1 })
  t.equal((await atlas.getCluster('Cluster0')).name, 'Cluster0')
})

t.test('a slow answer beyond the timeout: the call took effect in Atlas, the adapter reports it as unavailable', async t => {
  const { sim, atlas } = await startSim(t, {}, { requestTimeoutMs: 150, maxRetries: 0 })
  await atlas.getProject()
  sim.addFault({ kind: 'slow-answer', ms: 400, method: 'POST', path: '/databaseUsers', times: 1 })
  await t.rejects(atlas.createDatabaseUser(user('lost-answer')), { name: 'AtlasUnavailableError', message: /timed out/ })
  t.ok(sim.databaseUsers().some(u => u.username === 'lost-answer'), 'the user exists although the caller never heard so')
  await sleep(300)
})

t.test('the deadline bounds a call with its retries', async t => {
  const { sim, atlas } = await startSim(t, {}, { requestTimeoutMs: 100, maxRetries: 10 })
  await atlas.getProject()
  sim.addFault({ kind: 'latency', ms: 1000, path: '/clusters/Cluster0' })
  const started = Date.now()
  await t.rejects(atlas.getCluster('Cluster0', { deadline: Date.now() + 400 }), AtlasUnavailableError)
  t.ok(Date.now() - started < 900, `gave up at the deadline (${Date.now() - started} ms)`)
  sim.clearFaults()
})

t.test('an unreachable Atlas is a quick AtlasUnavailableError, not a hang', async t => {
  const atlas = new HttpAtlasAdapter({
    baseUrl: 'http://127.0.0.1:1', projectId: '0123456789abcdef01234567', credentials: { kind: 'digest', publicKey: 'a', privateKey: 'b' },
    backoffBaseMs: 10, backoffMaxMs: 20
  })
  t.teardown(() => atlas.close())
  await t.rejects(atlas.getProject({ deadline: Date.now() + 2000 }), AtlasUnavailableError)
})

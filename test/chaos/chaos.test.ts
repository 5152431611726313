/**
 * Chaos (bounded, loopback only): 300 lifecycles (three in ten on a cluster plan: flex, M10, or flex in a
 * project of the instance's own, asynchronous)
 * while the Atlas simulator injects 10% 5xx, bursts of 429, 2 s latency spikes and a few answers slower than
 * the broker's Atlas timeout (applied, but lost). The platform behaves as real ones do: it polls
 * last_operation after a 202, and after a failed provision, bind, unbind or deprovision it sends DELETE until
 * that succeeds. Every OSB request must answer well under 60 s, and at the end Atlas and the broker's records
 * must agree: no user or cluster without a live record, no live record left.
 */
import t from 'tap'
import { HttpAtlasAdapter } from '../../src/adapters/atlas/http-atlas-adapter.js'
import { AtlasSimulator } from '../../src/adapters/atlas/simulator/atlas-simulator.js'
import { MemoryStorage } from '../../src/adapters/storage/memory-storage.js'
import { composeBroker } from '../../src/app/compose.js'
import { loadConfig } from '../../src/app/config.js'
import { DEDICATED_PLAN_IDS, SEED_PLAN_ID, SEED_SERVICE_ID } from '../../src/app/default-catalog.js'
import { findOrphans } from '../../src/domain/sweep.js'
import { captureLogger } from '../helpers/broker.js'
import { catalogFile, OWN_PROJECT_PLAN_ID, withOwnProjectPlan } from '../helpers/catalogs.js'
import { deleteAndPoll, deleteQuery, deleteUntilGone as platformDelete, pollUntilDone, type ReadState } from '../helpers/platform.js'

t.setTimeout(600_000)
const LIFECYCLES = 300
const CONCURRENCY = 25

t.test(`${LIFECYCLES} lifecycles (shared and cluster plans) under 5xx, 429 bursts, latency spikes and lost answers stay consistent`, async t => {
  const sim = new AtlasSimulator({ seedClusters: ['Main'], delays: { clusterCreateMs: 0, clusterUpdateMs: 0, clusterDeleteMs: 0, flexCreateMs: 0, userPropagationMs: 30, accessListMs: 30 } })
  const url = await sim.listen()
  const storage = new MemoryStorage()
  // One plan gives each instance its own project (an organisation key; the platform's egress on every access list).
  const orgKey = sim.addOrgKey()
  const file = catalogFile(withOwnProjectPlan(sim.orgId).catalog, 'chaos')
  const broker = await composeBroker(loadConfig({
    ATLAS_BASE_URL: url, ATLAS_PROJECT_ID: sim.projectId, ATLAS_PUBLIC_KEY: sim.publicKey, ATLAS_PRIVATE_KEY: sim.privateKey,
    ATLAS_DEFAULT_CLUSTER: 'Main', BROKER_USERNAME: 'platform', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'c'.repeat(32),
    USER_PROPAGATION_POLL_MS: '20', OPERATION_BUDGET_MS: '20000', ATLAS_REQUEST_TIMEOUT_MS: '3000', LOG_LEVEL: 'silent',
    CATALOG_FILE: file, ATLAS_CREDENTIALS_ORG_PUBLIC_KEY: orgKey.publicKey, ATLAS_CREDENTIALS_ORG_PRIVATE_KEY: orgKey.privateKey,
    ATLAS_DEFAULT_IP_ACCESS_LIST: '198.51.100.0/24'
  }), captureLogger('silent').logger, { storage })
  t.teardown(async () => { await broker.close(); await sim.close() })

  sim.addFault({ kind: 'status', status: 500, rate: 0.05 })
  sim.addFault({ kind: 'status', status: 503, rate: 0.05 })
  sim.addFault({ kind: 'latency', ms: 2000, rate: 0.02 })
  // Now and then an answer slower than the broker's Atlas timeout: Atlas applies the call, the broker never
  // hears back (a lost answer), so cleanup must not assume the call did nothing.
  sim.addFault({ kind: 'slow-answer', ms: 3500, rate: 0.01 })
  // Resizes lose their answer more often, so the "did Atlas take it?" path is always exercised.
  sim.addFault({ kind: 'slow-answer', ms: 3500, method: 'PATCH', path: '/clusters/', rate: 0.3 })
  // 429 storms: every 3 s, 400 ms during which Atlas rate-limits every call.
  const bursts = setInterval(() => {
    const stop = sim.addFault({ kind: 'rate-limit', retryAfterSeconds: 0.2 })
    setTimeout(stop, 400)
  }, 3000)
  t.teardown(() => clearInterval(bursts))

  const headers = { authorization: `Basic ${Buffer.from('platform:a-long-password').toString('base64')}`, 'x-broker-api-version': '2.17', 'content-type': 'application/json' }
  let slowest = 0
  let requests = 0
  const statuses = new Map<number, number>()
  const lastBodies = new Map<string, string>()
  const send = async (method: 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<number> => {
    const started = Date.now()
    const r = await broker.app.inject({ method, url: path, headers, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) })
    lastBodies.set(path.split('?')[0] ?? path, `${r.statusCode} ${r.body}`)
    slowest = Math.max(slowest, Date.now() - started)
    requests++
    statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1)
    return r.statusCode
  }
  const deleteUntilGone = async (path: string, query?: string): Promise<void> => {
    await platformDelete(send, path, { pauseMs: 200, lastAnswer: () => lastBodies.get(path) ?? '', ...(query === undefined ? {} : { query }) })
  }
  const readState: ReadState = async path => {
    const r = await broker.app.inject({ method: 'GET', url: path, headers })
    requests++
    return r.statusCode === 200 ? (JSON.parse(r.body) as { state: string }).state : undefined
  }
  const poll = { pauseMs: 100 }

  /**
   * M10 → M20 under the same faults; once the platform has its answer (and the polls), the record's plan and
   * the cluster's tier in Atlas must agree, whatever the outcome.
   */
  const tierMismatches: string[] = []
  let resizes = 0
  const resize = async (n: number, instance: string): Promise<void> => {
    resizes++
    const status = await send('PATCH', `${instance}?accepts_incomplete=true`, { service_id: SEED_SERVICE_ID, plan_id: DEDICATED_PLAN_IDS.m20 })
    if (status === 202) await pollUntilDone(readState, instance, DEDICATED_PLAN_IDS.m20, poll)
    const record = await storage.getInstance(`chaos-${n}`)
    if (record === undefined) return
    const expected = record.planId === DEDICATED_PLAN_IDS.m20 ? 'M20' : 'M10'
    const actual = sim.clusterInstanceSize(record.cluster)
    if (actual !== expected) tierMismatches.push(`chaos-${n}: PATCH answered ${status}, record on ${expected}, Atlas cluster ${actual ?? 'missing'}`)
  }

  /** Shared plan: synchronous; cluster plans (every fifth lifecycle, flex and M10 in turn): 202 and polling. */
  const lifecycle = async (n: number): Promise<void> => {
    const planId = n % 10 === 4 ? DEDICATED_PLAN_IDS.flex : n % 10 === 9 ? DEDICATED_PLAN_IDS.m10 : n % 10 === 7 ? OWN_PROJECT_PLAN_ID : SEED_PLAN_ID
    const async = planId !== SEED_PLAN_ID
    if (async) clusterLifecycles++
    const instance = `/v2/service_instances/chaos-${n}`
    const binding = `${instance}/service_bindings/b-${n}`
    const provisioned = await send('PUT', async ? `${instance}?accepts_incomplete=true` : instance, { service_id: SEED_SERVICE_ID, plan_id: planId, organization_guid: 'o', space_guid: 's' })
    const ready = async ? provisioned === 202 && await pollUntilDone(readState, instance, planId, poll) === 'succeeded' : provisioned === 201 || provisioned === 200
    if (!ready) {
      if (async) await deleteAndPoll(send, readState, instance, planId, poll)
      else await deleteUntilGone(instance)
      return
    }
    await send('PUT', binding, { service_id: SEED_SERVICE_ID, plan_id: planId })
    if (planId === DEDICATED_PLAN_IDS.m10) await resize(n, instance)
    // Unbind whatever the bind answered: after a failed bind this is the platform's orphan mitigation.
    await deleteUntilGone(binding, deleteQuery(planId))
    if (async) await deleteAndPoll(send, readState, instance, planId, poll)
    else await deleteUntilGone(instance)
  }

  let next = 0
  let clusterLifecycles = 0
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < LIFECYCLES) await lifecycle(next++)
  }))
  clearInterval(bursts)
  sim.clearFaults()

  t.comment(`${clusterLifecycles} of them on cluster plans; ${requests} OSB requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}, slowest ${slowest} ms`)
  t.same(tierMismatches, [], `after ${resizes} resizes, every record's plan matches its cluster's tier in Atlas`)
  t.ok(slowest < 30_000, `every request answered well under 60 s (slowest ${slowest} ms)`)
  t.ok([...statuses.keys()].some(s => s >= 500), 'faults did reach the platform (the test exercised failure paths)')

  const snapshot = storage.snapshot()
  const liveInstances = snapshot.instances.filter(i => i.state !== 'deleted')
  const liveBindings = snapshot.bindings.filter(b => b.state !== 'deleted')
  t.same(liveInstances.map(i => i.id), [], 'no live instance left')
  t.same(liveBindings.map(b => b.id), [], 'no live binding left')
  const users = sim.databaseUsers()
  t.same(users.map(u => u.username), [], 'no Atlas user left behind')
  t.same(sim.clusterNames(), ['Main'], 'no Atlas cluster left behind (only the seeded one)')
  t.same(sim.projectIds(), [sim.projectId], 'no project of an instance left behind (their clusters, users and access lists went with them)')
  const sweeper = new HttpAtlasAdapter({ baseUrl: url, projectId: sim.projectId, credentials: { kind: 'digest', publicKey: sim.publicKey, privateKey: sim.privateKey } })
  t.teardown(() => sweeper.close())
  t.same(await findOrphans(sweeper, storage), [], 'the sweep finds no orphans')
})

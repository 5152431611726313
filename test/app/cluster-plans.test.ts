/**
 * Cluster plans (flex, m10, m20, m30): the asynchronous OSB lifecycle through HTTP against the Atlas
 * simulator, with faults, restarts and concurrency. Every response is checked against the OSB spec.
 */
import t, { type Test } from 'tap'
import { AtlasSimulator, type SimulatorDelays } from '../../src/adapters/atlas/simulator/atlas-simulator.js'
import { MemoryStorage } from '../../src/adapters/storage/memory-storage.js'
import { composeBroker, type RunningBroker } from '../../src/app/compose.js'
import { loadConfig } from '../../src/app/config.js'
import { DEDICATED_PLAN_IDS, SEED_PLAN_ID, SEED_SERVICE_ID } from '../../src/app/default-catalog.js'
import type { StoragePort } from '../../src/ports/storage-port.js'
import { captureLogger } from '../helpers/broker.js'
import { osb, type OsbResponse } from '../helpers/osb-client.js'

const I = '/v2/service_instances'
const AUTH = `Basic ${Buffer.from('platform:a-long-password').toString('base64')}`
const FAST: SimulatorDelays = { clusterCreateMs: 150, clusterUpdateMs: 150, clusterDeleteMs: 150, flexCreateMs: 50, userPropagationMs: 10 }

interface Env {
  sim: AtlasSimulator
  broker: RunningBroker
  storage: StoragePort
  call: (method: 'GET' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown) => Promise<OsbResponse>
  restart: () => Promise<void>
}

async function setup (t: Test, delays: Partial<SimulatorDelays> = {}, simOptions: Partial<ConstructorParameters<typeof AtlasSimulator>[0]> = {}): Promise<Env> {
  const sim = new AtlasSimulator({ seedClusters: ['Main'], delays: { ...FAST, ...delays }, ...simOptions })
  const url = await sim.listen()
  const storage = new MemoryStorage()
  const config = loadConfig({
    ATLAS_BASE_URL: url, ATLAS_PROJECT_ID: sim.projectId, ATLAS_PUBLIC_KEY: sim.publicKey, ATLAS_PRIVATE_KEY: sim.privateKey,
    ATLAS_DEFAULT_CLUSTER: 'Main', BROKER_USERNAME: 'platform', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'z'.repeat(32),
    USER_PROPAGATION_POLL_MS: '10', OPERATION_BUDGET_MS: '5000', ATLAS_REQUEST_TIMEOUT_MS: '1000', POLL_RETRY_AFTER_SECONDS: '7'
  })
  const env: Env = {
    sim,
    storage,
    broker: await composeBroker(config, captureLogger('silent').logger, { storage }),
    call: async (method, path, body) => await osb(env.broker.app, t, method, path, {
      headers: { authorization: AUTH }, ...(body === undefined ? {} : { body })
    }),
    restart: async () => {
      await env.broker.close()
      env.broker = await composeBroker(config, captureLogger('silent').logger, { storage })
    }
  }
  t.teardown(async () => { await env.broker.close(); await sim.close() })
  return env
}

const provisionBody = (planId: string, parameters: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ service_id: SEED_SERVICE_ID, plan_id: planId, organization_guid: 'org', space_guid: 'space', parameters })
const q = (planId: string): string => `service_id=${SEED_SERVICE_ID}&plan_id=${planId}`

async function pollUntilDone (env: Env, url: string, _t: Test, limitMs = 5000): Promise<OsbResponse> {
  const end = Date.now() + limitMs
  for (;;) {
    const r = await env.call('GET', url)
    if (r.status !== 200 || r.body.state !== 'in progress' || Date.now() > end) return r
    await new Promise(resolve => setTimeout(resolve, 40))
  }
}

t.test('B8/L1: catalog: flex, m10, m20, m30 with stable ids, schemas, limits and costs', async t => {
  const env = await setup(t)
  const r = await env.call('GET', '/v2/catalog')
  const plans = (r.body.services as Array<{ plans: Array<Record<string, unknown>> }>)[0]!.plans
  for (const [name, id] of Object.entries(DEDICATED_PLAN_IDS)) {
    const plan = plans.find(p => p.name === name)
    t.ok(plan, `plan ${name}`)
    t.equal(plan?.id, id)
    t.ok((plan?.maximum_polling_duration as number) >= 1800, 'maximum_polling_duration above Atlas\'s worst case')
    t.match(plan?.metadata, { costs: [{ amount: { usd: Number }, unit: 'HOURLY' }], bullets: Array })
    const create = (plan?.schemas as { service_instance: { create: { parameters: Record<string, unknown> } } }).service_instance.create.parameters
    t.type(create.$schema, 'string')
    t.ok((create.properties as Record<string, unknown>).provider)
    t.ok((create.properties as Record<string, unknown>).region)
    t.ok((create.properties as Record<string, unknown>).terminationProtectionEnabled)
  }
  t.equal(plans.find(p => p.name === 'm10')?.plan_updateable, true)
  t.equal(plans.find(p => p.name === 'flex')?.plan_updateable, false)
})

t.test('A12/C3/C4/C6/D8/D10/F8/G5/H5: m10: full asynchronous lifecycle — provision, bind, resize to m20, unbind, deprovision', async t => {
  const env = await setup(t)
  const url = `${I}/ded-1`
  const noAsync = await env.call('PUT', url, provisionBody(DEDICATED_PLAN_IDS.m10))
  t.equal(noAsync.status, 422)
  t.equal(noAsync.body.error, 'AsyncRequired')
  t.same(env.sim.clusterNames(), ['Main'], 'nothing created')

  const accepted = await env.call('PUT', `${url}?accepts_incomplete=true`, provisionBody(DEDICATED_PLAN_IDS.m10, { region: 'EU_WEST_1', database: 'app' }))
  t.equal(accepted.status, 202)
  const operation = accepted.body.operation
  t.type(operation, 'string')
  t.equal(env.sim.clusterNames().length, 2)
  const clusterName = env.sim.clusterNames().find(n => n !== 'Main')!
  t.match(clusterName, /^osb-[0-9a-f]{19}$/)
  const again = await env.call('PUT', `${url}?accepts_incomplete=true`, provisionBody(DEDICATED_PLAN_IDS.m10, { region: 'EU_WEST_1', database: 'app' }))
  t.equal(again.status, 202, 'D5: identical PUT while provisioning')
  t.equal(again.body.operation, operation, 'with the same operation')
  t.equal((await env.call('PUT', `${url}?accepts_incomplete=true`, provisionBody(DEDICATED_PLAN_IDS.m20))).status, 409)

  const polling = await env.call('GET', `${url}/last_operation?operation=${encodeURIComponent(String(operation))}`)
  t.equal(polling.status, 200)
  t.equal(polling.body.state, 'in progress')
  t.equal(polling.headers['retry-after'], '7', 'Retry-After sent while in progress')
  t.equal((await env.call('GET', url)).status, 404, 'E3: fetch is 404 while provisioning')
  const early = await env.call('PUT', `${url}/service_bindings/b1`, { service_id: SEED_SERVICE_ID, plan_id: DEDICATED_PLAN_IDS.m10 })
  t.equal(early.status, 422)
  t.equal(early.body.error, 'ConcurrencyError')

  const done = await pollUntilDone(env, `${url}/last_operation`, t)
  t.equal(done.body.state, 'succeeded')
  t.equal(done.headers['retry-after'], undefined)
  const fetched = await env.call('GET', url)
  t.equal(fetched.status, 200)
  t.equal(fetched.body.plan_id, DEDICATED_PLAN_IDS.m10)

  const bound = await env.call('PUT', `${url}/service_bindings/b1`, { service_id: SEED_SERVICE_ID, plan_id: DEDICATED_PLAN_IDS.m10 })
  t.equal(bound.status, 201)
  const credentials = bound.body.credentials as Record<string, string>
  t.equal(credentials.database, 'app')
  t.match(credentials.uri, new RegExp(`^mongodb\\+srv://b1:[^@]+@${clusterName.toLowerCase()}\\.`))
  t.same(env.sim.databaseUsers()[0]?.scopes, [{ name: clusterName, type: 'CLUSTER' }])

  // Resize.
  const syncResize = await env.call('PATCH', url, { service_id: SEED_SERVICE_ID, plan_id: DEDICATED_PLAN_IDS.m20 })
  t.equal(syncResize.status, 422)
  t.equal(syncResize.body.error, 'AsyncRequired')
  const resize = await env.call('PATCH', `${url}?accepts_incomplete=true`, { service_id: SEED_SERVICE_ID, plan_id: DEDICATED_PLAN_IDS.m20, previous_values: { plan_id: DEDICATED_PLAN_IDS.m10 } })
  t.equal(resize.status, 202)
  const repeat = await env.call('PATCH', `${url}?accepts_incomplete=true`, { service_id: SEED_SERVICE_ID, plan_id: DEDICATED_PLAN_IDS.m20 })
  t.equal(repeat.status, 202, 'F5: identical PATCH while in progress')
  t.equal(repeat.body.operation, resize.body.operation)
  const other = await env.call('PATCH', `${url}?accepts_incomplete=true`, { service_id: SEED_SERVICE_ID, plan_id: DEDICATED_PLAN_IDS.m30 })
  t.equal(other.status, 422)
  t.equal(other.body.error, 'ConcurrencyError')
  t.equal((await env.call('GET', url)).body.error, 'ConcurrencyError', 'E4: fetch during an update is 422')
  const duringUpdate = await env.call('PUT', `${url}/service_bindings/b2`, { service_id: SEED_SERVICE_ID, plan_id: DEDICATED_PLAN_IDS.m10 })
  t.equal(duringUpdate.status, 201, 'binds work while Atlas resizes (the cluster stays available)')
  const resized = await pollUntilDone(env, `${url}/last_operation?plan_id=${DEDICATED_PLAN_IDS.m10}`, t)
  t.equal(resized.body.state, 'succeeded')
  t.equal((await env.call('GET', url)).body.plan_id, DEDICATED_PLAN_IDS.m20)

  // Forbidden changes apply nothing.
  for (const planId of [DEDICATED_PLAN_IDS.flex, SEED_PLAN_ID]) {
    const r = await env.call('PATCH', `${url}?accepts_incomplete=true`, { service_id: SEED_SERVICE_ID, plan_id: planId })
    t.equal(r.status, 422, `m20 → ${planId} refused`)
  }
  t.equal((await env.call('PATCH', `${url}?accepts_incomplete=true`, { service_id: SEED_SERVICE_ID, parameters: { region: 'US_WEST_2' } })).status, 400, 'region cannot change')
  t.equal((await env.call('GET', url)).body.plan_id, DEDICATED_PLAN_IDS.m20)

  // Termination protection.
  const protect = await env.call('PATCH', `${url}?accepts_incomplete=true`, { service_id: SEED_SERVICE_ID, parameters: { terminationProtectionEnabled: true } })
  t.equal(protect.status, 202)
  t.equal((await pollUntilDone(env, `${url}/last_operation`, t)).body.state, 'succeeded')
  const refused = await env.call('DELETE', `${url}?${q(DEDICATED_PLAN_IDS.m20)}&accepts_incomplete=true`)
  t.equal(refused.status, 422)
  t.match(refused.body.description, /termination protection/)
  t.equal(env.sim.databaseUsers().length, 2, 'nothing revoked by the refused delete')
  await env.call('PATCH', `${url}?accepts_incomplete=true`, { service_id: SEED_SERVICE_ID, parameters: { terminationProtectionEnabled: false } })
  t.equal((await pollUntilDone(env, `${url}/last_operation`, t)).body.state, 'succeeded')

  t.equal((await env.call('DELETE', `${url}/service_bindings/b1?${q(DEDICATED_PLAN_IDS.m20)}`)).status, 200)
  const noAsyncDelete = await env.call('DELETE', `${url}?${q(DEDICATED_PLAN_IDS.m20)}`)
  t.equal(noAsyncDelete.status, 422)
  t.equal(noAsyncDelete.body.error, 'AsyncRequired')
  const deleting = await env.call('DELETE', `${url}?${q(DEDICATED_PLAN_IDS.m20)}&accepts_incomplete=true`)
  t.equal(deleting.status, 202)
  t.equal(env.sim.databaseUsers().length, 0, 'remaining binding users revoked')
  const again2 = await env.call('DELETE', `${url}?${q(DEDICATED_PLAN_IDS.m20)}&accepts_incomplete=true`)
  t.equal(again2.status, 202, 'H4: re-sent DELETE while deleting')
  t.equal(again2.body.operation, deleting.body.operation)
  const gone = await pollUntilDone(env, `${url}/last_operation`, t)
  t.equal(gone.body.state, 'succeeded')
  t.same(env.sim.clusterNames(), ['Main'])
  t.equal((await env.call('GET', `${url}/last_operation`)).body.state, 'succeeded', 'Z6: tombstone')
  t.equal((await env.call('DELETE', `${url}?${q(DEDICATED_PLAN_IDS.m20)}&accepts_incomplete=true`)).status, 410)
})

t.test('flex: provision, bind, unbind, deprovision', async t => {
  const env = await setup(t)
  const url = `${I}/flex-1`
  t.equal((await env.call('PUT', `${url}?accepts_incomplete=true`, provisionBody(DEDICATED_PLAN_IDS.flex, { provider: 'GCP', region: 'CENTRAL_US' }))).status, 202)
  t.equal((await pollUntilDone(env, `${url}/last_operation`, t)).body.state, 'succeeded')
  const bound = await env.call('PUT', `${url}/service_bindings/fb`, { service_id: SEED_SERVICE_ID, plan_id: DEDICATED_PLAN_IDS.flex })
  t.equal(bound.status, 201)
  t.equal((await env.call('PATCH', `${url}?accepts_incomplete=true`, { service_id: SEED_SERVICE_ID, plan_id: DEDICATED_PLAN_IDS.m10 })).status, 422, 'flex → dedicated refused')
  t.equal((await env.call('DELETE', `${url}/service_bindings/fb?${q(DEDICATED_PLAN_IDS.flex)}`)).status, 200)
  t.equal((await env.call('DELETE', `${url}?${q(DEDICATED_PLAN_IDS.flex)}&accepts_incomplete=true`)).status, 202)
  t.equal((await pollUntilDone(env, `${url}/last_operation`, t)).body.state, 'succeeded')
  t.same(env.sim.clusterNames(), ['Main'])
})

t.test('a platform that re-sends DELETE instead of polling sees the deletion end (200, then 410)', async t => {
  const env = await setup(t, { clusterDeleteMs: 300 })
  const url = `${I}/resend`
  t.equal((await env.call('PUT', `${url}?accepts_incomplete=true`, provisionBody(DEDICATED_PLAN_IDS.flex, { provider: 'GCP', region: 'CENTRAL_US' }))).status, 202)
  t.equal((await pollUntilDone(env, `${url}/last_operation`, t)).body.state, 'succeeded')
  const del = `${url}?${q(DEDICATED_PLAN_IDS.flex)}&accepts_incomplete=true`
  t.equal((await env.call('DELETE', del)).status, 202)
  t.equal((await env.call('DELETE', del)).status, 202, 'still deleting in Atlas')
  await new Promise(resolve => setTimeout(resolve, 500))
  t.same(env.sim.clusterNames(), ['Main'], 'Atlas has finished')
  const done = await env.call('DELETE', del)
  t.equal(done.status, 200, 'the re-sent DELETE looked at Atlas and saw the cluster gone')
  t.same(done.body, {})
  t.equal((await env.call('GET', `${url}/last_operation`)).body.state, 'succeeded')
  t.equal((await env.call('DELETE', del)).status, 410)
})

t.test('H3: a DELETE during provisioning stops the create and deletes the cluster', async t => {
  const env = await setup(t, { clusterCreateMs: 5000 })
  const url = `${I}/orphan`
  t.equal((await env.call('PUT', `${url}?accepts_incomplete=true`, provisionBody(DEDICATED_PLAN_IDS.m10))).status, 202)
  const deleting = await env.call('DELETE', `${url}?${q(DEDICATED_PLAN_IDS.m10)}&accepts_incomplete=true`)
  t.equal(deleting.status, 202)
  t.equal((await pollUntilDone(env, `${url}/last_operation`, t)).body.state, 'succeeded')
  t.same(env.sim.clusterNames(), ['Main'])
})

t.test('D11/G7/L3: Atlas failing the create: a 5xx keeps a failed record for orphan mitigation; a refusal leaves nothing', async t => {
  const env = await setup(t)
  env.sim.addFault({ kind: 'status', status: 500, method: 'POST', path: '/clusters', times: 1 })
  const failed = await env.call('PUT', `${I}/f1?accepts_incomplete=true`, provisionBody(DEDICATED_PLAN_IDS.m10))
  t.equal(failed.status, 503)
  const lo = await env.call('GET', `${I}/f1/last_operation`)
  t.equal(lo.body.state, 'failed')
  t.match(lo.body.description, /Atlas/)
  const mitigation = await env.call('DELETE', `${I}/f1?${q(DEDICATED_PLAN_IDS.m10)}&accepts_incomplete=true`)
  t.equal(mitigation.status, 200, 'nothing in Atlas: deleted at once')
  t.equal((await env.call('DELETE', `${I}/f1?${q(DEDICATED_PLAN_IDS.m10)}`)).status, 410)

  env.sim.maxClusters = 1
  const refused = await env.call('PUT', `${I}/f2?accepts_incomplete=true`, provisionBody(DEDICATED_PLAN_IDS.m10))
  t.equal(refused.status, 422)
  t.match(refused.body.description, /limited to 1 clusters/)
  t.equal((await env.call('GET', `${I}/f2/last_operation`)).status, 404, 'no record left')
  t.equal((await env.call('PUT', `${I}/f3?accepts_incomplete=true`, provisionBody(DEDICATED_PLAN_IDS.m10, { provider: 'OCI' }))).status, 400)
})

t.test('rate limiting during polling keeps the operation in progress, then it completes', async t => {
  const env = await setup(t)
  t.equal((await env.call('PUT', `${I}/rl?accepts_incomplete=true`, provisionBody(DEDICATED_PLAN_IDS.flex))).status, 202)
  const stop = env.sim.addFault({ kind: 'rate-limit', retryAfterSeconds: 10, method: 'GET', path: '/flexClusters/' })
  await new Promise(resolve => setTimeout(resolve, 100))
  const limited = await env.call('GET', `${I}/rl/last_operation`)
  t.equal(limited.status, 200)
  t.equal(limited.body.state, 'in progress')
  stop()
  t.equal((await pollUntilDone(env, `${I}/rl/last_operation`, t)).body.state, 'succeeded')
})

t.test('a broker restart in the middle: polling resumes from storage', async t => {
  const env = await setup(t, { clusterCreateMs: 300 })
  t.equal((await env.call('PUT', `${I}/rs?accepts_incomplete=true`, provisionBody(DEDICATED_PLAN_IDS.m10))).status, 202)
  await env.restart()
  t.equal((await pollUntilDone(env, `${I}/rs/last_operation`, t)).body.state, 'succeeded')
  t.equal((await env.call('DELETE', `${I}/rs?${q(DEDICATED_PLAN_IDS.m10)}&accepts_incomplete=true`)).status, 202)
  await env.restart()
  t.equal((await pollUntilDone(env, `${I}/rs/last_operation`, t)).body.state, 'succeeded')
})

t.test('concurrent identical provisions create one cluster and share one operation', async t => {
  const env = await setup(t)
  const results = await Promise.all(Array.from({ length: 10 }, async () =>
    await env.call('PUT', `${I}/cc?accepts_incomplete=true`, provisionBody(DEDICATED_PLAN_IDS.m10))))
  t.ok(results.every(r => r.status === 202 || r.status === 422), results.map(r => r.status).join(','))
  const operations = new Set(results.filter(r => r.status === 202).map(r => r.body.operation))
  t.equal(operations.size, 1)
  t.equal(env.sim.clusterNames().length, 2, 'one cluster')
})

t.test('local mode runs cluster plans with short simulated timings', async t => {
  const config = loadConfig({ LOCAL_MODE: 'true', LOCAL_SIM_CREATE_SECONDS: '0.2', LOCAL_SIM_PROPAGATION_SECONDS: '0.01', USER_PROPAGATION_POLL_MS: '10' })
  const running = await composeBroker(config, captureLogger('silent').logger)
  t.teardown(() => running.close())
  const auth = `Basic ${Buffer.from(`${running.credentials.username}:${running.credentials.password}`).toString('base64')}`
  const call = async (method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<OsbResponse> =>
    await osb(running.app, t, method, path, { headers: { authorization: auth }, ...(body === undefined ? {} : { body }) })
  t.equal((await call('PUT', `${I}/lm?accepts_incomplete=true`, provisionBody(DEDICATED_PLAN_IDS.m10))).status, 202)
  const end = Date.now() + 5000
  let state = 'in progress'
  while (state === 'in progress' && Date.now() < end) {
    await new Promise(resolve => setTimeout(resolve, 50))
    state = String((await call('GET', `${I}/lm/last_operation`)).body.state)
  }
  t.equal(state, 'succeeded')
  t.equal((await call('PUT', `${I}/lm/service_bindings/b`, { service_id: SEED_SERVICE_ID, plan_id: DEDICATED_PLAN_IDS.m10 })).status, 201)
})

t.test('D10/E2: dashboard_url, the instance\'s cluster in the Atlas UI, in the first (asynchronous) answer and on fetch', async t => {
  const env = await setup(t)
  const url = `${I}/dash-1`
  const accepted = await env.call('PUT', `${url}?accepts_incomplete=true`, provisionBody(DEDICATED_PLAN_IDS.flex))
  t.equal(accepted.status, 202)
  const clusterName = env.sim.clusterNames().find(n => n !== 'Main')!
  t.equal(accepted.body.dashboard_url, `${new URL(String(accepted.body.dashboard_url)).origin}/v2/${env.sim.projectId}#/clusters/detail/${clusterName}`)
  t.equal((await pollUntilDone(env, `${url}/last_operation`, t)).body.state, 'succeeded')
  t.match((await env.call('GET', url)).body.dashboard_url, new RegExp(`/v2/${env.sim.projectId}#/clusters/detail/${clusterName}$`))
  const shared = await env.call('PUT', `${I}/dash-2`, { ...provisionBody(SEED_PLAN_ID), parameters: { cluster: 'Main' } })
  t.match(shared.body.dashboard_url, /#\/clusters\/detail\/Main$/, 'the shared plan links its existing cluster')
})

/**
 * The whole broker (real adapter, real HTTP) over the simulator with Atlas misbehaving: bounded retries,
 * then a clear OSB error, and nothing half-made left in Atlas or in storage.
 */
import t, { type Test } from 'tap'
import { AtlasSimulator } from '../../src/adapters/atlas/simulator/atlas-simulator.js'
import { composeBroker, type RunningBroker } from '../../src/app/compose.js'
import { loadConfig } from '../../src/app/config.js'
import { PLAN_ID, SERVICE_ID, captureLogger } from '../helpers/broker.js'

const I = '/v2/service_instances'
const Q = `service_id=${SERVICE_ID}&plan_id=${PLAN_ID}`

async function setup (t: Test, env: Record<string, string> = {}): Promise<{ sim: AtlasSimulator, broker: RunningBroker, logLines: string[], send: (method: 'GET' | 'PUT' | 'DELETE', url: string, body?: unknown) => Promise<{ status: number, body: Record<string, unknown>, ms: number }> }> {
  const sim = new AtlasSimulator({ seedClusters: ['Main'], delays: { clusterCreateMs: 0, clusterUpdateMs: 0, clusterDeleteMs: 0, flexCreateMs: 0, userPropagationMs: 20 } })
  const url = await sim.listen()
  const logs = captureLogger('warn')
  const broker = await composeBroker(loadConfig({
    ATLAS_BASE_URL: url, ATLAS_PROJECT_ID: sim.projectId, ATLAS_PUBLIC_KEY: sim.publicKey, ATLAS_PRIVATE_KEY: sim.privateKey,
    ATLAS_DEFAULT_CLUSTER: 'Main', BROKER_USERNAME: 'platform', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'z'.repeat(32),
    USER_PROPAGATION_POLL_MS: '20', OPERATION_BUDGET_MS: '3000', ATLAS_REQUEST_TIMEOUT_MS: '500', ATLAS_RETRY_BASE_MS: '50', ...env
  }), logs.logger)
  t.teardown(async () => { await broker.close(); await sim.close() })
  const headers = { authorization: `Basic ${Buffer.from('platform:a-long-password').toString('base64')}`, 'x-broker-api-version': '2.17', 'content-type': 'application/json' }
  const send = async (method: 'GET' | 'PUT' | 'DELETE', url: string, body?: unknown) => {
    const started = Date.now()
    const r = await broker.app.inject({ method, url, headers, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) })
    return { status: r.statusCode, body: r.json() as Record<string, unknown>, ms: Date.now() - started }
  }
  await send('PUT', `${I}/inst`, { service_id: SERVICE_ID, plan_id: PLAN_ID, organization_guid: 'o', space_guid: 's' })
  return { sim, broker, send, logLines: logs.lines }
}

t.test('a 5xx storm on user creation: 503 at once, nothing left; the retry after it succeeds', async t => {
  const { sim, send } = await setup(t)
  const stop = sim.addFault({ kind: 'status', status: 500, method: 'POST', path: '/databaseUsers' })
  const r = await send('PUT', `${I}/inst/service_bindings/b1`, { service_id: SERVICE_ID, plan_id: PLAN_ID })
  t.equal(r.status, 503)
  t.match(r.body.description, /Atlas/)
  t.notMatch(r.body.description, /[a-f0-9]{24}|\/groups\/|\/api\//, 'no Atlas path or project id in what users see')
  t.equal(sim.databaseUsers().length, 0)
  t.equal((await send('GET', `${I}/inst/service_bindings/b1/last_operation`)).status, 404, 'no binding record')
  stop()
  t.equal((await send('PUT', `${I}/inst/service_bindings/b1`, { service_id: SERVICE_ID, plan_id: PLAN_ID })).status, 201)
  t.equal(sim.databaseUsers().length, 1)
})

t.test('a 429 storm: bounded by the operation budget, then 503 and nothing half-made', async t => {
  const { sim, send } = await setup(t)
  sim.addFault({ kind: 'rate-limit', retryAfterSeconds: 0.2 })
  const r = await send('PUT', `${I}/inst/service_bindings/b2`, { service_id: SERVICE_ID, plan_id: PLAN_ID })
  t.equal(r.status, 503)
  t.ok(r.ms < 5000, `answered in ${r.ms} ms`)
  t.match(r.body.description, /rate limit/i)
  sim.clearFaults()
  t.equal(sim.databaseUsers().length, 0)
})

t.test('intermittent 5xx on reads and dropped connections are absorbed by retries', async t => {
  const { sim, send } = await setup(t, { OPERATION_BUDGET_MS: '20000', ATLAS_MAX_RETRIES: '8' })
  sim.addFault({ kind: 'status', status: 500, method: 'GET', rate: 0.25 })
  sim.addFault({ kind: 'drop', method: 'DELETE', path: '/databaseUsers', times: 1 })
  for (let i = 0; i < 5; i++) {
    const bound = await send('PUT', `${I}/inst/service_bindings/r${i}`, { service_id: SERVICE_ID, plan_id: PLAN_ID })
    t.equal(bound.status, 201, String(bound.body.description))
    t.equal((await send('DELETE', `${I}/inst/service_bindings/r${i}?${Q}`)).status, 200)
  }
  sim.clearFaults()
  t.equal(sim.databaseUsers().length, 0)
})

t.test('propagation slower than the budget: 503, the user removed again', async t => {
  const { sim, send } = await setup(t, { USER_PROPAGATION_TIMEOUT_MS: '300' })
  sim.delays.userPropagationMs = 5000
  const r = await send('PUT', `${I}/inst/service_bindings/slow`, { service_id: SERVICE_ID, plan_id: PLAN_ID })
  t.equal(r.status, 503)
  t.match(r.body.description, /did not reach cluster/)
  t.equal(sim.databaseUsers().length, 0)
})

t.test('an Atlas outage: catalog, fetches and /readyz keep answering; Atlas-bound calls get 503 with Retry-After; atlas_up and a warn line', async t => {
  const { sim, broker, send, logLines } = await setup(t, { METRICS_PUBLIC: 'true' })
  t.equal((await send('PUT', `${I}/inst/service_bindings/b1`, { service_id: SERVICE_ID, plan_id: PLAN_ID })).status, 201)
  sim.addFault({ kind: 'drop' })
  const bind = await broker.app.inject({
    method: 'PUT', url: `${I}/inst/service_bindings/b2`, payload: JSON.stringify({ service_id: SERVICE_ID, plan_id: PLAN_ID }),
    headers: { authorization: `Basic ${Buffer.from('platform:a-long-password').toString('base64')}`, 'x-broker-api-version': '2.17', 'content-type': 'application/json' }
  })
  t.equal(bind.statusCode, 503)
  t.equal(bind.headers['retry-after'], '10')
  t.equal((await send('GET', '/v2/catalog')).status, 200, 'catalog')
  t.equal((await send('GET', `${I}/inst`)).status, 200, 'fetch instance')
  const fetched = await send('GET', `${I}/inst/service_bindings/b1`)
  t.equal(fetched.status, 200, 'fetch binding, from the connection strings recorded at bind time')
  t.match(fetched.body.credentials, { uri: /^mongodb\+srv:\/\// })
  t.equal((await broker.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, 'still ready')
  const metrics = (await broker.app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /^atlas_broker_atlas_up 0$/m)
  t.match(logLines.join('\n'), /Atlas unreachable/)
  sim.clearFaults()
  t.equal((await send('PUT', `${I}/inst/service_bindings/b2`, { service_id: SERVICE_ID, plan_id: PLAN_ID })).status, 201, 'served again once Atlas answers')
  t.match((await broker.app.inject({ method: 'GET', url: '/metrics' })).body, /^atlas_broker_atlas_up 1$/m)
  t.match(logLines.join('\n'), /Atlas reachable again/)
})

t.test('Atlas refusing reused digest nonces: the broker falls back, says so once in the log and in /metrics, and no call fails', async t => {
  const sim = new AtlasSimulator({ seedClusters: ['Main'], strictNonces: true, delays: { clusterCreateMs: 0, clusterUpdateMs: 0, clusterDeleteMs: 0, flexCreateMs: 0, userPropagationMs: 20 } })
  const url = await sim.listen()
  const logs = captureLogger('warn')
  const broker = await composeBroker(loadConfig({
    ATLAS_BASE_URL: url, ATLAS_PROJECT_ID: sim.projectId, ATLAS_PUBLIC_KEY: sim.publicKey, ATLAS_PRIVATE_KEY: sim.privateKey,
    ATLAS_DEFAULT_CLUSTER: 'Main', BROKER_USERNAME: 'platform', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'z'.repeat(32),
    USER_PROPAGATION_POLL_MS: '20', ATLAS_RETRY_BASE_MS: '50', METRICS_PUBLIC: 'true'
  }), logs.logger)
  t.teardown(async () => { await broker.close(); await sim.close() })
  const headers = { authorization: `Basic ${Buffer.from('platform:a-long-password').toString('base64')}`, 'x-broker-api-version': '2.17', 'content-type': 'application/json' }
  const statuses = await Promise.all(Array.from({ length: 10 }, async (_, i) => (await broker.app.inject({
    method: 'PUT', url: `${I}/nonce-${i}`, headers, payload: JSON.stringify({ service_id: SERVICE_ID, plan_id: PLAN_ID, organization_guid: 'o', space_guid: 's' })
  })).statusCode))
  t.same([...new Set(statuses)], [201])
  for (let i = 0; i < 5; i++) {
    const r = await broker.app.inject({ method: 'PUT', url: `${I}/nonce-${i}/service_bindings/nonce-b${i}`, headers, payload: JSON.stringify({ service_id: SERVICE_ID, plan_id: PLAN_ID }) })
    t.equal(r.statusCode, 201, r.body)
  }
  t.equal(logs.lines.filter(l => l.includes('refused a reused digest nonce')).length, 1, 'logged once')
  t.match((await broker.app.inject({ method: 'GET', url: '/metrics' })).body, /^atlas_broker_atlas_digest_nonce_reuse 0$/m)
})

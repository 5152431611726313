/**
 * Local mode: no Atlas credentials → the simulator and the broker in one process, and the whole OSB
 * lifecycle of the shared-cluster plan works against it. With credentials, the configured Atlas URL is
 * used and no simulator is started.
 */
import t from 'tap'
import { AtlasSimulator } from '../../src/adapters/atlas/simulator/atlas-simulator.js'
import { composeBroker } from '../../src/app/compose.js'
import { loadConfig } from '../../src/app/config.js'
import { PLAN_ID, SERVICE_ID, captureLogger } from '../helpers/broker.js'

const I = '/v2/service_instances'

t.test('local mode: simulator + broker, full lifecycle, generated login, policy sources logged', async t => {
  const config = loadConfig({ LOCAL_MODE: 'true', LOCAL_SIM_PROPAGATION_SECONDS: '0.05', USER_PROPAGATION_POLL_MS: '20', DROP_DATABASE_ON_DEPROVISION: 'true' })
  const { logger, lines } = captureLogger('info')
  const running = await composeBroker(config, logger)
  t.teardown(() => running.close())
  t.match(running.simulatorUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.ok(running.credentials.password.length >= 16, 'a generated password')
  t.match(lines.join('\n'), /"policyHooks":\["databaseName: built-in","clusterName: built-in","projectName: built-in","username: built-in","password: built-in"/)
  const auth = `Basic ${Buffer.from(`${running.credentials.username}:${running.credentials.password}`).toString('base64')}`
  const headers = { authorization: auth, 'x-broker-api-version': '2.17', 'content-type': 'application/json' }
  const send = async (method: 'GET' | 'PUT' | 'DELETE', url: string, body?: unknown) =>
    await running.app.inject({ method, url, headers, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) })

  t.equal((await send('GET', '/v2/catalog')).statusCode, 200)
  t.equal((await send('PUT', `${I}/local-1`, { service_id: SERVICE_ID, plan_id: PLAN_ID, organization_guid: 'o', space_guid: 's' })).statusCode, 201)
  const badCluster = await send('PUT', `${I}/local-2`, { service_id: SERVICE_ID, plan_id: PLAN_ID, organization_guid: 'o', space_guid: 's', parameters: { cluster: 'Nope' } })
  t.equal(badCluster.statusCode, 400)
  const bind = await send('PUT', `${I}/local-1/service_bindings/b-1`, { service_id: SERVICE_ID, plan_id: PLAN_ID })
  t.equal(bind.statusCode, 201)
  const credentials = bind.json().credentials as Record<string, string>
  t.match(credentials.uri, /^mongodb\+srv:\/\/b-1:[^@]+@cluster0\.[a-f0-9]+\.mongodb\.net\/local-1\?/)
  t.equal((await send('GET', `${I}/local-1/service_bindings/b-1`)).statusCode, 200)
  t.equal((await send('DELETE', `${I}/local-1/service_bindings/b-1?service_id=${SERVICE_ID}&plan_id=${PLAN_ID}`)).statusCode, 200)
  t.equal((await send('DELETE', `${I}/local-1?service_id=${SERVICE_ID}&plan_id=${PLAN_ID}`)).statusCode, 200)
  t.equal((await send('GET', `${I}/local-1/last_operation`)).json().state, 'succeeded')
})

t.test('with Atlas credentials: the configured Atlas is used and no simulator starts', async t => {
  const sim = new AtlasSimulator({ seedClusters: ['Main'], record: true })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const config = loadConfig({
    ATLAS_BASE_URL: url, ATLAS_PROJECT_ID: sim.projectId, ATLAS_PUBLIC_KEY: sim.publicKey, ATLAS_PRIVATE_KEY: sim.privateKey,
    ATLAS_DEFAULT_CLUSTER: 'Main', BROKER_USERNAME: 'platform', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'z'.repeat(32),
    USER_PROPAGATION_POLL_MS: '20'
  })
  const { logger } = captureLogger('warn')
  const running = await composeBroker(config, logger)
  t.teardown(() => running.close())
  t.equal(running.simulatorUrl, undefined)
  const headers = { authorization: `Basic ${Buffer.from('platform:a-long-password').toString('base64')}`, 'x-broker-api-version': '2.17', 'content-type': 'application/json' }
  const r = await running.app.inject({ method: 'PUT', url: `${I}/x`, headers, payload: JSON.stringify({ service_id: SERVICE_ID, plan_id: PLAN_ID, organization_guid: 'o', space_guid: 's' }) })
  t.equal(r.statusCode, 201)
  t.ok(sim.exchanges.some(e => e.path.endsWith('/clusters/Main')), 'the configured Atlas was asked')
})

t.test('wrong Atlas keys: OSB calls get a clear 5xx, not a hang', async t => {
  const sim = new AtlasSimulator({ seedClusters: ['Main'] })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const config = loadConfig({
    ATLAS_BASE_URL: url, ATLAS_PROJECT_ID: sim.projectId, ATLAS_PUBLIC_KEY: sim.publicKey, ATLAS_PRIVATE_KEY: 'wrong',
    ATLAS_DEFAULT_CLUSTER: 'Main', BROKER_USERNAME: 'platform', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'z'.repeat(32)
  })
  const running = await composeBroker(config, captureLogger('silent').logger)
  t.teardown(() => running.close())
  const headers = { authorization: `Basic ${Buffer.from('platform:a-long-password').toString('base64')}`, 'x-broker-api-version': '2.17', 'content-type': 'application/json' }
  const r = await running.app.inject({ method: 'PUT', url: `${I}/x`, headers, payload: JSON.stringify({ service_id: SERVICE_ID, plan_id: PLAN_ID, organization_guid: 'o', space_guid: 's' }) })
  t.equal(r.statusCode, 500, 'not a 503 "retry later": retrying cannot fix wrong keys')
  t.match(r.json().description, /operator must fix it/)
  t.match(r.json().description, /request id \S+\)$/, 'a request id to find the detail in the log')
  t.notMatch(r.json().description, /[a-f0-9]{24}|\/groups\//, 'no project id or Atlas path')
})

t.test('probes: /healthz and /readyz need no auth; readiness is storage, not Atlas', async t => {
  const sim = new AtlasSimulator({ seedClusters: ['Main'] })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const base = {
    ATLAS_BASE_URL: url, ATLAS_PROJECT_ID: sim.projectId, ATLAS_PUBLIC_KEY: sim.publicKey,
    BROKER_USERNAME: 'platform', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'z'.repeat(32)
  }
  const logs = captureLogger('info')
  const good = await composeBroker(loadConfig({ ...base, ATLAS_PRIVATE_KEY: sim.privateKey }), logs.logger)
  t.teardown(() => good.close())
  t.equal((await good.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
  t.notMatch(logs.lines.join('\n'), /healthz/, 'probes stay out of the info-level request log')
  const ready = await good.app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 200)
  t.equal(ready.headers['content-type'], 'application/json; charset=utf-8')

  // Atlas down (every call fails): this replica still serves; the catalog answers; Atlas-bound calls get 503.
  sim.addFault({ kind: 'drop' })
  const stillReady = await good.app.inject({ method: 'GET', url: '/readyz' })
  t.equal(stillReady.statusCode, 200, 'an Atlas outage takes no replica out of service')
  const auth = { authorization: `Basic ${Buffer.from('platform:a-long-password').toString('base64')}`, 'x-broker-api-version': '2.17' }
  t.equal((await good.app.inject({ method: 'GET', url: '/v2/catalog', headers: auth })).statusCode, 200)
  sim.clearFaults()
  const bad = await composeBroker(loadConfig({ ...base, ATLAS_PRIVATE_KEY: 'wrong' }), captureLogger('silent').logger)
  t.teardown(() => bad.close())
  t.equal((await bad.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, 'wrong Atlas keys are for check and the metrics, not readiness')
  t.equal((await bad.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'still alive')
})

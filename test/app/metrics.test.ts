/** /metrics: Prometheus text, OSB and Atlas counters, in-flight gauge; behind broker auth unless public. */
import t from 'tap'
import { atlasOperation } from '../../src/adapters/metrics/prometheus-metrics.js'
import { composeBroker } from '../../src/app/compose.js'
import { loadConfig } from '../../src/app/config.js'
import { DEDICATED_PLAN_IDS, SEED_PLAN_ID, SEED_SERVICE_ID } from '../../src/app/default-catalog.js'
import { captureLogger } from '../helpers/broker.js'

t.test('OSB and Atlas activity shows in /metrics; auth required by default', async t => {
  const running = await composeBroker(loadConfig({ LOCAL_MODE: 'true', LOCAL_SIM_PROPAGATION_SECONDS: '0.01', USER_PROPAGATION_POLL_MS: '10', LOCAL_SIM_CREATE_SECONDS: '30' }), captureLogger('silent').logger)
  t.teardown(() => running.close())
  const auth = `Basic ${Buffer.from(`${running.credentials.username}:${running.credentials.password}`).toString('base64')}`
  const headers = { authorization: auth, 'x-broker-api-version': '2.17', 'content-type': 'application/json' }
  await running.app.inject({ method: 'PUT', url: '/v2/service_instances/m1', headers, payload: JSON.stringify({ service_id: SEED_SERVICE_ID, plan_id: SEED_PLAN_ID, organization_guid: 'o', space_guid: 's' }) })
  await running.app.inject({ method: 'PUT', url: '/v2/service_instances/m1/service_bindings/b1', headers, payload: JSON.stringify({ service_id: SEED_SERVICE_ID, plan_id: SEED_PLAN_ID }) })
  await running.app.inject({ method: 'PUT', url: '/v2/service_instances/m2?accepts_incomplete=true', headers, payload: JSON.stringify({ service_id: SEED_SERVICE_ID, plan_id: DEDICATED_PLAN_IDS.m10, organization_guid: 'o', space_guid: 's' }) })

  t.equal((await running.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401)
  const r = await running.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: auth } })
  t.equal(r.statusCode, 200, 'no version header needed')
  t.match(r.headers['content-type'], /^text\/plain/)
  t.match(r.body, /atlas_broker_osb_requests_total\{operation="bind",status="201"\} 1/)
  t.match(r.body, /atlas_broker_osb_requests_total\{operation="provision",status="202"\} 1/)
  t.match(r.body, /atlas_broker_osb_request_duration_seconds_bucket\{le="[^"]+",operation="bind"\}/)
  t.match(r.body, /atlas_broker_atlas_requests_total\{operation="POST \/groups\/\{group\}\/databaseUsers",outcome="2xx"\} 1/)
  t.match(r.body, /atlas_broker_atlas_requests_total\{operation="GET \/groups\/\{group\}\/clusters\/\{name\}\/status",outcome="2xx"\}/)
  t.match(r.body, /atlas_broker_async_operations_in_flight 1/, 'the m10 provision is in flight')
  t.match(r.body, /process_cpu_user_seconds_total/)
  t.notMatch(r.body, /password/i)
})

t.test('METRICS_PUBLIC=true serves /metrics without auth', async t => {
  const running = await composeBroker(loadConfig({ LOCAL_MODE: 'true', METRICS_PUBLIC: 'true' }), captureLogger('silent').logger)
  t.teardown(() => running.close())
  t.equal((await running.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200)
  t.equal((await running.app.inject({ method: 'GET', url: '/v2/catalog' })).statusCode, 401, 'the OSB API stays protected')
})

t.test('Atlas paths become low-cardinality operation labels', async t => {
  t.equal(atlasOperation('GET', '/groups/0123/clusters/my-cluster/status'), 'GET /groups/{group}/clusters/{name}/status')
  t.equal(atlasOperation('DELETE', '/groups/0123/databaseUsers/admin/user%2F1'), 'DELETE /groups/{group}/databaseUsers/{db}/{user}')
  t.equal(atlasOperation('GET', '/groups/0123/clusters?pageNum=2'), 'GET /groups/{group}/clusters')
})

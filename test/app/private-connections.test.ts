/**
 * Private connection strings: when Atlas reports VPC peering or private endpoint strings, credentials carry
 * them under stable keys and the plan's `atlas.connection` or the bind's `connection` chooses which one `uri`
 * is built from. A path the cluster does not have is refused before anything is made. Over HTTP against the
 * simulator, every answer checked against the OSB spec.
 */
import t, { type Test } from 'tap'
import { defaultCatalog, SEED_PLAN_ID, SEED_SERVICE_ID } from '../../src/app/default-catalog.js'
import { type SimBroker, startSimBroker } from '../helpers/sim-broker.js'

const I = '/v2/service_instances'
const bindBody = (parameters: Record<string, unknown>): Record<string, unknown> => ({ service_id: SEED_SERVICE_ID, plan_id: SEED_PLAN_ID, parameters })

async function setup (t: Test, connection?: 'private' | 'privateEndpoint'): Promise<SimBroker> {
  const catalog = structuredClone(defaultCatalog)
  catalog.services[0]!.plans[0]!.atlas = { kind: 'shared-cluster', ...(connection === undefined ? {} : { connection }) }
  const env = await startSimBroker(t, catalog)
  t.equal((await env.call('PUT', `${I}/i1`, { service_id: SEED_SERVICE_ID, plan_id: SEED_PLAN_ID, organization_guid: 'o', space_guid: 's', parameters: { database: 'orders' } })).status, 201)
  return env
}

t.test('a bind chooses the path of its uri; credentials carry every string Atlas reports', async t => {
  const { sim, call } = await setup(t)
  sim.setPrivateNetworking('Main', { peering: true, endpointIds: ['vpce-0aaaaaaaaaaaaaaa1', 'vpce-0bbbbbbbbbbbbbbb2'] })
  const pub = await call('PUT', `${I}/i1/service_bindings/pub`, bindBody({}))
  const pc = pub.body.credentials as { uri: string, connectionStrings: Record<string, unknown> }
  t.match(pc.uri, /^mongodb\+srv:\/\/pub:[^@]+@main\.[a-f0-9]+\.mongodb\.net\/orders\?/, 'public by default')
  t.type(pc.connectionStrings.privateSrv, 'string', 'the private strings are carried too')
  t.equal((pc.connectionStrings.privateEndpoint as unknown[]).length, 2)

  const peering = await call('PUT', `${I}/i1/service_bindings/vpc`, bindBody({ connection: 'private' }))
  t.equal(peering.status, 201)
  t.match((peering.body.credentials as { uri: string }).uri, /^mongodb\+srv:\/\/vpc:[^@]+@main-pri\.[a-f0-9]+\.mongodb\.net\/orders\?/, 'VPC peering')

  const endpoint = await call('PUT', `${I}/i1/service_bindings/pe`, bindBody({ connection: 'privateEndpoint' }))
  t.match((endpoint.body.credentials as { uri: string }).uri, /@main-pl-0\./, 'the first private endpoint')
  const second = await call('PUT', `${I}/i1/service_bindings/pe2`, bindBody({ connection: 'privateEndpoint', privateEndpointId: 'vpce-0bbbbbbbbbbbbbbb2' }))
  t.match((second.body.credentials as { uri: string }).uri, /@main-pl-1\./, 'the endpoint named')
  const fetched = await call('GET', `${I}/i1/service_bindings/pe2`)
  t.equal((fetched.body.credentials as { uri: string }).uri, (second.body.credentials as { uri: string }).uri, 'fetch answers the same path')
})

t.test('a path the cluster does not have is a 422 that makes nothing; bad choices are 400s', async t => {
  const { sim, call } = await setup(t, 'privateEndpoint')
  const none = await call('PUT', `${I}/i1/service_bindings/b`, bindBody({}))
  t.equal(none.status, 422, 'the plan\'s privateEndpoint, and the cluster has none')
  t.match(none.body.description, /no private endpoint connection string/)
  t.same(sim.databaseUsers(), [], 'no user made')
  const bad = await call('PUT', `${I}/i1/service_bindings/b`, bindBody({ connection: 'vpn' }))
  t.equal(bad.status, 400)
  t.match(bad.body.description, /must be one of public, private, privateEndpoint/)
  const stray = await call('PUT', `${I}/i1/service_bindings/b`, bindBody({ connection: 'private', privateEndpointId: 'vpce-1' }))
  t.equal(stray.status, 400)
  sim.setPrivateNetworking('Main', { endpointIds: ['vpce-0aaaaaaaaaaaaaaa1'] })
  const unknown = await call('PUT', `${I}/i1/service_bindings/b`, bindBody({ privateEndpointId: 'vpce-0ffffffffffffffff' }))
  t.equal(unknown.status, 422)
  t.match(unknown.body.description, /no private endpoint vpce-0ffffffffffffffff/)
  t.equal((await call('PUT', `${I}/i1/service_bindings/b`, bindBody({}))).status, 201, 'once the endpoint exists, the plan\'s path works')
  t.equal(sim.databaseUsers().length, 1)
  t.equal((await call('PUT', `${I}/i1/service_bindings/p`, bindBody({ connection: 'public' }))).status, 201, 'a bind may still choose public')
})

t.test('after a restart and during an Atlas outage the binding keeps its private path (recorded strings)', async t => {
  const env = await setup(t)
  env.sim.setPrivateNetworking('Main', { endpointIds: ['vpce-0aaaaaaaaaaaaaaa1'] })
  const bound = await env.call('PUT', `${I}/i1/service_bindings/pe`, bindBody({ connection: 'privateEndpoint' }))
  t.equal(bound.status, 201)
  const uri = (bound.body.credentials as { uri: string }).uri
  await env.restart()
  t.equal(((await env.call('GET', `${I}/i1/service_bindings/pe`)).body.credentials as { uri: string }).uri, uri, 'after a restart')
  const stop = env.sim.addFault({ kind: 'status', status: 503, method: 'GET', path: '/clusters/' })
  const during = await env.call('GET', `${I}/i1/service_bindings/pe`)
  t.equal(during.status, 200)
  t.equal((during.body.credentials as { uri: string }).uri, uri, 'while Atlas cannot be reached: the strings recorded at bind time')
  stop()
  const failing = env.sim.addFault({ kind: 'status', status: 500, method: 'POST', path: '/databaseUsers' })
  const failed = await env.call('PUT', `${I}/i1/service_bindings/pe2`, bindBody({ connection: 'privateEndpoint' }))
  t.ok(failed.status >= 500, `a bind Atlas fails is a 5xx (${failed.status})`)
  failing()
  t.same(env.sim.databaseUsers().map(u => u.username), ['pe'], 'and leaves no user')
})

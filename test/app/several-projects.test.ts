/**
 * One broker, several Atlas projects: plans name a project and a named set of credentials; records remember
 * their project, so binds, unbinds, polls and deprovisions after a restart reach the right one; each key can
 * reach only its own project. Over HTTP against the simulator (several projects, keys scoped to them).
 */
import t from 'tap'
import { HttpAtlasAdapter } from '../../src/adapters/atlas/http-atlas-adapter.js'
import type { AtlasSimulator } from '../../src/adapters/atlas/simulator/atlas-simulator.js'
import { runCli } from '../../src/app/cli-commands.js'
import { composeBroker } from '../../src/app/compose.js'
import { ConfigError, loadConfig } from '../../src/app/config.js'
import { defaultCatalog, DEDICATED_PLAN_IDS, SEED_PLAN_ID, SEED_SERVICE_ID } from '../../src/app/default-catalog.js'
import type { BrokerCatalog } from '../../src/domain/catalog.js'
import { AtlasPermissionError } from '../../src/ports/atlas-port.js'
import { captureLogger } from '../helpers/broker.js'
import { startSimBroker } from '../helpers/sim-broker.js'

const I = '/v2/service_instances'
const TEAM_B_SHARED = '7a1c2e3f-0000-4000-8000-00000000b001'
const TEAM_B_FLEX = '7a1c2e3f-0000-4000-8000-00000000b002'
let teamB: { projectId: string, publicKey: string, privateKey: string }

function catalogWithTeamB (sim: AtlasSimulator): BrokerCatalog {
  teamB = sim.addProject({ projectName: 'team-b', seedClusters: ['TeamB'] })
  const catalog = structuredClone(defaultCatalog)
  const plans = catalog.services[0]!.plans
  const flex = plans.find(p => p.id === DEDICATED_PLAN_IDS.flex)!
  plans.push(
    { ...structuredClone(plans[0]!), id: TEAM_B_SHARED, name: 'team-b-shared', atlas: { kind: 'shared-cluster', projectId: teamB.projectId, credentials: 'team-b' } },
    { ...structuredClone(flex), id: TEAM_B_FLEX, name: 'team-b-flex', atlas: { ...structuredClone(flex.atlas), projectId: teamB.projectId, credentials: 'team-b' } as typeof flex.atlas }
  )
  return catalog
}

const teamBCredentials = (): Record<string, string> => ({ ATLAS_CREDENTIALS_TEAM_B_PUBLIC_KEY: teamB.publicKey, ATLAS_CREDENTIALS_TEAM_B_PRIVATE_KEY: teamB.privateKey })
const provisionBody = (planId: string, parameters: Record<string, unknown>): Record<string, unknown> =>
  ({ service_id: SEED_SERVICE_ID, plan_id: planId, organization_guid: 'o', space_guid: 's', parameters })
const q = (planId: string): string => `service_id=${SEED_SERVICE_ID}&plan_id=${planId}`

t.test('plans in another project: everything reaches that project, before and after a restart', async t => {
  const env = await startSimBroker(t, catalogWithTeamB, { delays: { userPropagationMs: 20, flexCreateMs: 50, clusterDeleteMs: 50 } }, { env: teamBCredentials })
  const { sim, call } = env
  t.equal((await call('PUT', `${I}/a`, provisionBody(SEED_PLAN_ID, { cluster: 'TeamB' }))).status, 400, 'the default plan looks in the configured project')
  t.equal((await call('PUT', `${I}/b`, provisionBody(TEAM_B_SHARED, { cluster: 'TeamB', database: 'orders' }))).status, 201, 'the team-b plan in team-b\'s project')
  const bound = await call('PUT', `${I}/b/service_bindings/bb`, { service_id: SEED_SERVICE_ID, plan_id: TEAM_B_SHARED })
  t.equal(bound.status, 201)
  t.match((bound.body.credentials as { uri: string }).uri, /@teamb\./)
  t.same(sim.databaseUsers(teamB.projectId).map(u => u.username), ['bb'], 'the user is in team-b\'s project')
  t.same(sim.databaseUsers().map(u => u.username), [], 'and not in the configured one')

  const flex = await call('PUT', `${I}/f?accepts_incomplete=true`, provisionBody(TEAM_B_FLEX, {}))
  t.equal(flex.status, 202)
  t.equal(sim.clusterNames(teamB.projectId).length, 2, 'the flex cluster is created in team-b\'s project')

  await env.restart()
  for (let i = 0; i < 100; i++) {
    const polled = await call('GET', `${I}/f/last_operation?${q(TEAM_B_FLEX)}`)
    if (polled.body.state !== 'in progress') { t.equal(polled.body.state, 'succeeded', 'polled in the right project after a restart'); break }
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  t.equal((await call('DELETE', `${I}/b/service_bindings/bb?${q(TEAM_B_SHARED)}`)).status, 200)
  t.same(sim.databaseUsers(teamB.projectId), [], 'unbind after the restart deleted the user where it was')
  t.equal((await call('DELETE', `${I}/f?accepts_incomplete=true&${q(TEAM_B_FLEX)}`)).status, 202)
  for (let i = 0; i < 100 && sim.clusterNames(teamB.projectId).length > 1; i++) {
    await call('GET', `${I}/f/last_operation?${q(TEAM_B_FLEX)}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  t.same(sim.clusterNames(teamB.projectId), ['TeamB'], 'the flex cluster is gone from team-b\'s project')
  t.equal((await call('DELETE', `${I}/b?${q(TEAM_B_SHARED)}`)).status, 200)

  // The check command probes every project with its own credentials.
  const lines: string[] = []
  t.equal(await runCli(['check'], env.env, line => lines.push(line), line => lines.push(line)), 0, lines.join('\n'))
  t.ok(lines.some(l => /^ok {3}Atlas reachable; credentials team-b accepted for project team-b/.test(l)), lines.join('\n'))
})

t.test('faults in the other project: a bind that fails there leaves no user there; the retry succeeds', async t => {
  const env = await startSimBroker(t, catalogWithTeamB, {}, { env: teamBCredentials })
  const { sim, call } = env
  t.equal((await call('PUT', `${I}/b`, provisionBody(TEAM_B_SHARED, { cluster: 'TeamB' }))).status, 201)
  const stop = sim.addFault({ kind: 'status', status: 500, path: `/groups/${teamB.projectId}/clusters/TeamB/status` })
  const failed = await call('PUT', `${I}/b/service_bindings/x`, { service_id: SEED_SERVICE_ID, plan_id: TEAM_B_SHARED })
  t.ok(failed.status >= 500, `a 5xx (${failed.status})`)
  t.same(sim.databaseUsers(teamB.projectId), [], 'the user made in team-b\'s project was removed again')
  stop()
  t.equal((await call('PUT', `${I}/b/service_bindings/x`, { service_id: SEED_SERVICE_ID, plan_id: TEAM_B_SHARED })).status, 201, 'the platform\'s retry succeeds')
  t.equal(sim.databaseUsers(teamB.projectId).length, 1)
})

t.test('a key reaches only its own project; a plan naming credentials that are not configured stops start-up', async t => {
  const env = await startSimBroker(t, catalogWithTeamB, {}, { env: teamBCredentials })
  const stranger = new HttpAtlasAdapter({
    baseUrl: env.env.ATLAS_BASE_URL!, projectId: teamB.projectId, credentials: { kind: 'digest', publicKey: env.sim.publicKey, privateKey: env.sim.privateKey },
    requestTimeoutMs: 1000, backoffBaseMs: 10
  })
  t.teardown(() => stranger.close())
  await t.rejects(stranger.listDatabaseUsers(), AtlasPermissionError, 'the configured key has no role in team-b\'s project')
  const { ATLAS_CREDENTIALS_TEAM_B_PUBLIC_KEY: _a, ATLAS_CREDENTIALS_TEAM_B_PRIVATE_KEY: _b, ...without } = env.env
  await t.rejects(composeBroker(loadConfig(without), captureLogger('silent').logger), { constructor: ConfigError, message: /plan team-b-shared: atlas.credentials team-b is not configured \(set ATLAS_CREDENTIALS_TEAM_B_PUBLIC_KEY/ })
  t.throws(() => loadConfig({ ...env.env, ATLAS_CREDENTIALS_TEAM_C_PUBLIC_KEY: 'only-half' }), /credentials team-c need a public and private key/)
})

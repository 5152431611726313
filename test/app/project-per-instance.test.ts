/**
 * A project per instance: provision creates an Atlas project in the organisation (organisation key, named by
 * the projectName hook, tagged with the instance id), opens its access list (operator defaults and the
 * instance's ipAccessList) and completes only once the entries are ACTIVE; deprovision deletes the cluster,
 * then the project. Over HTTP against the simulator, with a lost answer, a restart and a name already taken;
 * every run ends with no project, cluster, user or entry left.
 */
import t, { type Test } from 'tap'
import type { AtlasSimulator } from '../../src/adapters/atlas/simulator/atlas-simulator.js'
import { SEED_PLAN_ID, SEED_SERVICE_ID } from '../../src/app/default-catalog.js'
import { runCli } from '../../src/app/cli-commands.js'
import { configuredAtlas } from '../../src/app/compose.js'
import { loadConfig } from '../../src/app/config.js'
import type { BrokerCatalog } from '../../src/domain/catalog.js'
import { deleteOrphanProject, findOrphanProjects } from '../../src/domain/sweep.js'
import { defaultPolicy } from '../../src/domain/default-policy.js'
import { OWN_PROJECT_PLAN_ID, withOwnProjectPlan } from '../helpers/catalogs.js'
import { type SimBroker, startSimBroker } from '../helpers/sim-broker.js'

const I = '/v2/service_instances'
const OWN_PLAN = OWN_PROJECT_PLAN_ID
const q = (planId: string): string => `service_id=${SEED_SERVICE_ID}&plan_id=${planId}`
let orgKey: { publicKey: string, privateKey: string }

function catalogWithOwnProjects (sim: AtlasSimulator): BrokerCatalog {
  orgKey = sim.addOrgKey()
  const { catalog, plan: own } = withOwnProjectPlan(sim.orgId)
  // The plan's parameter schemas name ipAccessList (the broker checks its contents itself).
  for (const schema of [own.schemas?.service_instance?.create?.parameters, own.schemas?.service_instance?.update?.parameters]) {
    if (schema !== undefined) (schema.properties as Record<string, unknown>).ipAccessList = { type: 'array', items: { type: 'object' } }
  }
  return catalog
}

async function setup (t: Test): Promise<SimBroker> {
  return await startSimBroker(t, catalogWithOwnProjects, { delays: { userPropagationMs: 20, flexCreateMs: 50, clusterDeleteMs: 80, accessListMs: 300 } }, {
    env: () => ({ ATLAS_CREDENTIALS_ORG_PUBLIC_KEY: orgKey.publicKey, ATLAS_CREDENTIALS_ORG_PRIVATE_KEY: orgKey.privateKey, ATLAS_DEFAULT_IP_ACCESS_LIST: '198.51.100.0/24' })
  })
}

const provisionBody = (parameters: Record<string, unknown>, planId = OWN_PLAN): Record<string, unknown> =>
  ({ service_id: SEED_SERVICE_ID, plan_id: planId, organization_guid: 'o', space_guid: 's', parameters })

async function pollUntilDone (env: SimBroker, id: string): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {}
  for (let i = 0; i < 150; i++) {
    const r = await env.call('GET', `${I}/${id}/last_operation?${q(OWN_PLAN)}`)
    if (r.status === 410) return { state: 'gone' }
    last = r.body
    if (last.state !== 'in progress') return last
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  return last
}

const ownProjects = (sim: AtlasSimulator): string[] => sim.projectIds().filter(id => id !== sim.projectId)

t.test('the whole lifecycle in the instance\'s own project', async t => {
  const env = await setup(t)
  const { sim, call } = env
  const created = await call('PUT', `${I}/own?accepts_incomplete=true`, provisionBody({ ipAccessList: [{ ipAddress: '203.0.113.7', comment: 'orders app' }] }))
  t.equal(created.status, 202, JSON.stringify(created.body))
  const [projectId] = ownProjects(sim)
  t.ok(projectId, 'a project was created in the organisation')
  t.match(created.body.dashboard_url, new RegExp(`/v2/${projectId!}#/clusters/detail/osb-`), 'dashboard_url points into the instance\'s own project')
  t.equal(sim.clusterNames(projectId).length, 1, 'with the cluster in it')
  const waiting = await call('GET', `${I}/own/last_operation?${q(OWN_PLAN)}`)
  t.equal(waiting.body.state, 'in progress', 'not done while the access list entries are PENDING')
  t.equal((await pollUntilDone(env, 'own')).state, 'succeeded')
  t.same(sim.accessListOf(projectId).map(e => [e.cidrBlock, e.status]).sort(), [['198.51.100.0/24', 'ACTIVE'], ['203.0.113.7/32', 'ACTIVE']], 'the operator default and the instance\'s entry, ACTIVE')

  const bound = await call('PUT', `${I}/own/service_bindings/b1`, { service_id: SEED_SERVICE_ID, plan_id: OWN_PLAN })
  t.equal(bound.status, 201)
  t.same(sim.databaseUsers(projectId).map(u => u.username), ['b1'], 'the binding\'s user is in the instance\'s project')
  t.equal((await call('DELETE', `${I}/own/service_bindings/b1?${q(OWN_PLAN)}`)).status, 200)

  const updated = await env.call('PATCH' as 'PUT', `${I}/own?accepts_incomplete=true`, { service_id: SEED_SERVICE_ID, parameters: { ipAccessList: [{ cidrBlock: '192.0.2.0/24' }] } })
  t.equal(updated.status, 200, 'an access list change applies at once')
  t.same(sim.accessListOf(projectId).map(e => e.cidrBlock).sort(), ['192.0.2.0/24', '198.51.100.0/24'], 'the old entry went, the new one came, the default stayed')

  t.equal((await call('DELETE', `${I}/own?accepts_incomplete=true&${q(OWN_PLAN)}`)).status, 202)
  t.equal((await pollUntilDone(env, 'own')).state, 'succeeded')
  t.same(ownProjects(sim), [], 'the cluster went, then the project')

  const lines: string[] = []
  await runCli(['check'], env.env, line => lines.push(line), line => lines.push(line))
  t.ok(lines.some(l => /^ok {3}plan flex-own-project: credentials org may create projects in organisation [0-9a-f]{24}$/.test(l)), lines.join('\n'))
})

t.test('ipAccessList is checked, and refused where the project is shared; nothing is made', async t => {
  const env = await setup(t)
  const { sim, call } = env
  const shared = await call('PUT', `${I}/s`, provisionBody({ ipAccessList: [{ ipAddress: '203.0.113.7' }] }, SEED_PLAN_ID))
  t.equal(shared.status, 400)
  t.match(shared.body.description, /access list is project-wide/)
  for (const [list, message] of [
    [[{ cidrBlock: '0.0.0.0/0' }], /opens the cluster to the whole internet/],
    [[{ cidrBlock: '10.0.0.0/33' }], /is not an IP address or CIDR block/],
    [[{ ipAddress: '10.0.0.1', cidrBlock: '10.0.0.0/8' }], /either cidrBlock or ipAddress/],
    ['10.0.0.1', /ipAccessList/]
  ] as Array<[unknown, RegExp]>) {
    const r = await call('PUT', `${I}/x?accepts_incomplete=true`, provisionBody({ ipAccessList: list }))
    t.equal(r.status, 400, JSON.stringify(list))
    t.match(r.body.description, message)
  }
  t.same(ownProjects(sim), [], 'no project made')
})

t.test('a lost answer and a restart mid-way: the next poll finds the project and finishes; one project only', async t => {
  const env = await setup(t)
  const { sim, call } = env
  const stop = sim.addFault({ kind: 'slow-answer', method: 'POST', path: /\/groups$/, ms: 1500, times: 1 })
  const accepted = await call('PUT', `${I}/lost?accepts_incomplete=true`, provisionBody({}))
  t.equal(accepted.status, 202, 'the create\'s answer was lost: accepted, to be finished by polling')
  stop()
  t.equal(ownProjects(sim).length, 1, 'Atlas made the project')
  await env.restart()
  t.equal((await pollUntilDone(env, 'lost')).state, 'succeeded', 'the poll after the restart adopted it and made the cluster')
  t.equal(ownProjects(sim).length, 1, 'one project')
  t.equal(sim.clusterNames(ownProjects(sim)[0]).length, 1)
  t.equal((await call('DELETE', `${I}/lost?accepts_incomplete=true&${q(OWN_PLAN)}`)).status, 202)
  await pollUntilDone(env, 'lost')
  t.same(ownProjects(sim), [])
})

t.test('a project name the organisation already has for something else is a 409 that leaves nothing', async t => {
  const env = await setup(t)
  const { sim, call } = env
  const facts = { instanceId: 'taken', serviceId: SEED_SERVICE_ID, planId: OWN_PLAN, organizationGuid: 'o', spaceGuid: 's', parameters: {}, context: {}, refuse: (m: string): never => { throw new Error(m) } }
  const foreign = sim.addProject({ projectName: defaultPolicy.projectName(facts) })
  const r = await call('PUT', `${I}/taken?accepts_incomplete=true`, provisionBody({}))
  t.equal(r.status, 409)
  t.match(r.body.description, /already exists in the organisation and does not belong to this instance/)
  t.same(ownProjects(sim), [foreign.projectId], 'the other project is untouched, no new one')
  t.equal((await call('GET', `${I}/taken/last_operation?${q(OWN_PLAN)}`)).status, 404, 'no record kept')
})

t.test('sweep finds a project whose instance record is gone, deletes its cluster, then the project', async t => {
  const env = await setup(t)
  const { sim, call } = env
  t.equal((await call('PUT', `${I}/lost-record?accepts_incomplete=true`, provisionBody({}))).status, 202)
  t.equal((await pollUntilDone(env, 'lost-record')).state, 'succeeded')
  const record = await env.storage.getInstance('lost-record')
  await env.storage.deleteInstance('lost-record', record!.version) // e.g. a restore of an older backup of the broker's state
  const org = configuredAtlas(loadConfig(env.env), {}, { credentials: 'org' })
  t.teardown(() => org.close())
  const orphans = await findOrphanProjects(org, env.storage)
  t.match(orphans, [{ owner: 'lost-record', reason: 'no instance record' }])
  const inside = configuredAtlas(loadConfig(env.env), {}, { projectId: orphans[0]!.projectId, credentials: 'org' })
  t.teardown(() => inside.close())
  t.equal(await deleteOrphanProject(org, inside, orphans[0]!), 'clusters-deleting', 'its cluster first')
  await new Promise(resolve => setTimeout(resolve, 150))
  t.equal(await deleteOrphanProject(org, inside, orphans[0]!), 'deleted', 'then the project')
  t.same(ownProjects(sim), [])
})

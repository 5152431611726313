/** The command-line tool: check, catalog, sweep's refusal, usage. */
import t from 'tap'
import { AtlasSimulator } from '../../src/adapters/atlas/simulator/atlas-simulator.js'
import { runCli } from '../../src/app/cli-commands.js'

async function cli (argv: string[], env: Record<string, string>): Promise<{ code: number, out: string, err: string }> {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(argv, env, l => out.push(l), l => err.push(l))
  return { code, out: out.join('\n'), err: err.join('\n') }
}

t.test('check: configuration, catalog, policies and the Atlas credentials', async t => {
  const sim = new AtlasSimulator({ seedClusters: ['Main'] })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const env = {
    ATLAS_BASE_URL: url, ATLAS_PROJECT_ID: sim.projectId, ATLAS_PUBLIC_KEY: sim.publicKey, ATLAS_PRIVATE_KEY: sim.privateKey,
    BROKER_USERNAME: 'platform', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'z'.repeat(32), PORT: '0' // the port check is tested on its own
  }
  const good = await cli(['check'], env)
  t.equal(good.code, 0, good.out)
  t.match(good.out, /ok +Atlas reachable; credentials accepted for project atlas-broker-local/)
  t.match(good.out, /ok +catalog: 5 plans/)
  t.match(good.out, /ok +permission to create and delete database users \(every bind\): granted/)
  t.match(good.out, /ok +permission to delete clusters and change termination protection \(cluster plans\): granted/)
  const wrong = await cli(['check'], { ...env, ATLAS_PRIVATE_KEY: 'wrong' })
  t.equal(wrong.code, 1)
  t.match(wrong.out, /FAIL Atlas: Atlas refused the broker's credentials: check ATLAS_PUBLIC_KEY and ATLAS_PRIVATE_KEY/)
  const missingDefault = await cli(['check'], { ...env, ATLAS_DEFAULT_CLUSTER: 'Nope' })
  t.match(missingDefault.out, /FAIL ATLAS_DEFAULT_CLUSTER: cluster Nope does not exist/)
  t.match((await cli(['check'], { ...env, ATLAS_DEFAULT_CLUSTER: 'Main' })).out, /ok +default cluster Main exists \(IDLE\)/)
  const invalid = await cli(['check'], { PORT: 'x' })
  t.equal(invalid.code, 1)
  t.match(invalid.out, /^FAIL PORT: must be a whole number \(got "x"\)$/m, "one FAIL line per configuration problem")
})

t.test('check: each permission the catalog needs, with the role to give; the access list with the address', async t => {
  const sim = new AtlasSimulator({ seedClusters: ['Main'], roles: ['GROUP_DATABASE_ACCESS_ADMIN'] })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const env = {
    ATLAS_BASE_URL: url, ATLAS_PROJECT_ID: sim.projectId, ATLAS_PUBLIC_KEY: sim.publicKey, ATLAS_PRIVATE_KEY: sim.privateKey,
    BROKER_USERNAME: 'platform', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'z'.repeat(32), ATLAS_REQUEST_TIMEOUT_MS: '1000'
  }
  const partial = await cli(['check'], env)
  t.equal(partial.code, 1)
  t.match(partial.out, /ok +permission to create and delete database users \(every bind\): granted/)
  t.match(partial.out, /FAIL permission to create and resize clusters \(cluster plans\): missing: give the credentials Project Cluster Manager \(or Project Owner\)/)
  t.match(partial.out, /FAIL permission to delete clusters and change termination protection \(cluster plans\): missing: give the credentials Project Owner/)
  sim.setAccessList(['10.0.0.0/8'])
  const blocked = await cli(['check'], env)
  t.match(blocked.out, /FAIL Atlas: Atlas refused the call because the broker's address 127\.0\.0\.1 is not on the API access list/)
  t.equal(sim.databaseUsers().length, 0, 'check changed nothing in Atlas')
})

t.test('catalog prints the served catalog; sweep refuses without the broker\'s MongoDB state; usage', async t => {
  const catalog = await cli(['catalog'], {})
  t.equal(catalog.code, 0)
  t.equal((JSON.parse(catalog.out) as { services: unknown[] }).services.length, 1)
  t.notMatch(catalog.out, /"atlas":/)
  const sweep = await cli(['sweep'], {})
  t.equal(sweep.code, 2)
  t.match(sweep.err, /MONGODB_URI/)
  t.equal((await cli(['nope'], {})).code, 2)
  t.match((await cli(['--help'], {})).err, /usage: atlas-broker/)
})

t.test('expected failures are one sentence with a documented exit code, never a stack trace', async t => {
  const noStack = (text: string): void => { t.notMatch(text, /\n\s+at /, 'no stack trace') }
  const badCatalog = await cli(['catalog'], { CATALOG_FILE: '/nonexistent/catalog.json' })
  t.equal(badCatalog.code, 2)
  t.match(badCatalog.err, /^atlas-broker catalog: invalid configuration:\n {2}- CATALOG_FILE: cannot read \/nonexistent\/catalog\.json as JSON/)
  noStack(badCatalog.err)
  const production = { ATLAS_PROJECT_ID: '0123456789abcdef01234567', ATLAS_PUBLIC_KEY: 'pub', ATLAS_PRIVATE_KEY: 'priv', BROKER_USERNAME: 'u', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'z'.repeat(32), ATLAS_BASE_URL: 'http://127.0.0.1:9', ATLAS_MAX_RETRIES: '0' }
  const sweep = await cli(['sweep'], { ...production, MONGODB_URI: 'mongodb://127.0.0.1:9/x', MONGODB_TIMEOUT_MS: '300' })
  t.equal(sweep.code, 1)
  t.match(sweep.err, /^atlas-broker sweep: MongoDB \(MONGODB_URI\) cannot be used: /)
  noStack(sweep.err)
  const { createServer } = await import('node:net')
  const taken = createServer()
  await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', () => resolve()))
  const port = String((taken.address() as { port: number }).port)
  const inUse = await cli(['check'], { ...production, PORT: port })
  await new Promise<void>(resolve => taken.close(() => resolve()))
  t.match(inUse.out, new RegExp(`FAIL PORT: port ${port} on 127\\.0\\.0\\.1 is already in use by another process`), 'check finds what serve would fail on')
  t.match((await cli(['check'], { ...production, PORT: port })).out, new RegExp(`ok +PORT ${port} on 127\\.0\\.0\\.1 is free to listen on`))
  const policies = await cli(['check'], { ...production, POLICIES_DIR: '/nonexistent/policies' })
  t.match(policies.out, /FAIL POLICIES_DIR: folder \/nonexistent\/policies does not exist/, policies.out)
})

/** Policy plugins: loading, order, overriding, shape checks, and the shipped example. */
import { mkdtempSync, writeFileSync, copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { loadPolicies } from '../../../src/adapters/policy/ts-policy-loader.js'
import { defaultPolicy } from '../../../src/domain/default-policy.js'
import { PolicyCalls } from '../../../src/domain/policy-calls.js'
import { silentLogger } from '../../../src/ports/logger-port.js'
import { BadRequestError } from '../../../src/ports/service-broker.js'
import { PolicyLoadError, type BindingFacts, type InstanceFacts } from '../../../src/ports/policy-port.js'

function folder (files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'policies-'))
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    writeFileSync(path.join(dir, name), text)
  }
  return dir
}

const refuse = (message: string): never => { throw new Error(message) }
const instance: InstanceFacts = { refuse, instanceId: 'i-1', serviceId: 's', planId: 'p', organizationGuid: 'o', spaceGuid: 's', parameters: {}, context: { platform: 'kubernetes', namespace: 'team-a' } }
const binding: BindingFacts = { refuse, bindingId: 'b-1', instanceId: 'i-1', serviceId: 's', planId: 'p', parameters: {}, context: {}, database: 'db', cluster: 'Cluster0', auth: 'scram', instance }

t.test('no folder or an empty folder: the built-in policy', async t => {
  const loaded = await loadPolicies('/nonexistent/policies', defaultPolicy)
  t.equal(loaded.policy.username(binding), 'b-1')
  t.ok(Object.values(loaded.sources).every(s => s === 'built-in'))
})

t.test('files load in name order; later files override earlier ones; sources name the files', async t => {
  const dir = folder({
    '20-second.ts': "const p: { username: (b: { bindingId: string }) => string } = { username: b => `second-${b.bindingId}` }\nexport default p\n",
    '10-first.ts': "export default { username: (b: { bindingId: string }) => `first-${b.bindingId}`, roles: (b: { database: string }) => [{ roleName: 'read', databaseName: b.database }] }\n",
    'ignored.ts.example': 'export default { username: () => "example" }\n',
    'sub/ignored.ts': 'export default { username: () => "sub" }\n',
    'types.d.ts': 'export {}\n'
  })
  const { policy, sources } = await loadPolicies(dir, defaultPolicy)
  t.equal(policy.username(binding), 'second-b-1')
  t.same(policy.roles(binding), [{ roleName: 'read', databaseName: 'db' }])
  t.equal(sources.username, path.join(dir, '20-second.ts'))
  t.equal(sources.roles, path.join(dir, '10-first.ts'))
  t.equal(sources.databaseName, 'built-in')
})

t.test('a password hook without predictableCredentials is treated as unpredictable', async t => {
  const random = await loadPolicies(folder({ 'p.ts': 'export default { password: () => Math.random().toString(36).repeat(3) }\n' }), defaultPolicy)
  t.equal(random.policy.predictableCredentials, false)
  const derived = await loadPolicies(folder({ 'p.ts': "export default { password: (b: { derive: (p?: string) => string }) => b.derive('v2'), predictableCredentials: true }\n" }), defaultPolicy)
  t.equal(derived.policy.predictableCredentials, true)
})

t.test('bad files stop start-up with an error naming the file', async t => {
  const cases: Record<string, string> = {
    'syntax.ts': 'export default { username: ( => }\n',
    'no-default.ts': 'export const username = () => "x"\n',
    'not-object.ts': 'export default 42\n',
    'unknown-hook.ts': 'export default { usernme: () => "x" }\n',
    'wrong-type.ts': 'export default { username: "x" }\n',
    'throws.ts': 'throw new Error("boom at load")\nexport default {}\n'
  }
  for (const [name, text] of Object.entries(cases)) {
    const dir = folder({ [name]: text })
    const err = await loadPolicies(dir, defaultPolicy).catch((e: unknown) => e)
    t.type(err, PolicyLoadError, name)
    t.match((err as Error).message, name, `${name}: the message names the file`)
  }
})

t.test('the shipped seed example loads and behaves like the seed\'s CustomConfig', async t => {
  const dir = folder({})
  copyFileSync(new URL('../../../policies/examples/seed-custom-config.ts', import.meta.url), path.join(dir, '10-seed.ts'))
  const { policy } = await loadPolicies(dir, defaultPolicy)
  t.equal(policy.username(binding), 'b-1-rw')
  t.equal(policy.databaseName({ ...instance, parameters: { ns: 'from-param' } }), 'from-param')
  t.equal(policy.databaseName(instance), 'team-a', 'falls back to the Kubernetes namespace')
  t.throws(() => policy.databaseName({ ...instance, context: { platform: 'cloudfoundry' } }), /ns/)
})

t.test('the example refuses through the typed API, from a folder outside the package, as a 400 with its message', async t => {
  const dir = folder({})
  copyFileSync(new URL('../../../policies/examples/seed-custom-config.ts', import.meta.url), path.join(dir, '10-seed.ts'))
  const text = readFileSync(path.join(dir, '10-seed.ts'), 'utf8')
  t.notMatch(text, /from '\.{1,2}\//, 'no relative imports: it type-checks wherever it is copied')
  t.match(text, /from 'atlas-broker'/, 'types come by package name')
  const { policy } = await loadPolicies(dir, defaultPolicy)
  const calls = new PolicyCalls(policy, silentLogger, [])
  const { refuse: _unused, ...data } = instance
  const err = (() => { try { calls.databaseName({ ...data, context: { platform: 'cloudfoundry' } }); return undefined } catch (e) { return e } })()
  t.type(err, BadRequestError)
  t.match((err as Error).message, /give the 'ns' parameter/)
})

t.test('the project policies folder has nothing enabled by default', async t => {
  const { sources } = await loadPolicies(new URL('../../../policies', import.meta.url).pathname, defaultPolicy)
  t.ok(Object.values(sources).every(s => s === 'built-in'))
})

t.test('the seed-defaults example gives python-atlasbroker\'s names, roles and random passwords', async t => {
  const dir = folder({})
  copyFileSync(new URL('../../../policies/examples/seed-defaults.ts', import.meta.url), path.join(dir, '05-seed-defaults.ts'))
  const { policy } = await loadPolicies(dir, defaultPolicy)
  t.equal(policy.databaseName(instance), 'instance-i-1')
  t.same(policy.roles(binding), [{ roleName: 'dbAdmin', databaseName: 'db' }, { roleName: 'readWrite', databaseName: 'db' }])
  const derive = (): string => 'never-used'
  const a = policy.password({ ...binding, derive })
  t.ok(a.length >= 20 && a !== policy.password({ ...binding, derive }), 'random')
  t.equal(policy.predictableCredentials, false, 'so the broker keeps them sealed to answer repeats')
})

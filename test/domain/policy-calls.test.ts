/**
 * Policy outcomes: a refusal is a 400 with the policy's message; any other failure is a 500 naming only the
 * hook, with the detail logged scrubbed of secrets; results are checked before anything is marked ready.
 */
import t from 'tap'
import { defaultPolicy } from '../../src/domain/default-policy.js'
import { PolicyCalls } from '../../src/domain/policy-calls.js'
import type { LoggerPort } from '../../src/ports/logger-port.js'
import { type Policy, PolicyError, PolicyRefusal } from '../../src/ports/policy-port.js'
import { type BindDetails, type ProvisionDetails, BadRequestError, InternalError } from '../../src/ports/service-broker.js'
import { makeBroker, PLAN_ID, SECRET, SERVICE_ID } from '../helpers/broker.js'

const provision: ProvisionDetails = { serviceId: SERVICE_ID, planId: PLAN_ID, organizationGuid: 'o', spaceGuid: 's', parameters: { database: 'db1' } }
const bind: BindDetails = { serviceId: SERVICE_ID, planId: PLAN_ID }
const instance = { instanceId: 'i', serviceId: 's', planId: 'p', organizationGuid: 'o', spaceGuid: 's', parameters: {}, context: {} }
const binding = { bindingId: 'b', instanceId: 'i', serviceId: 's', planId: 'p', parameters: {}, context: {}, database: 'db', cluster: 'c', auth: 'scram' as const, instance }

function recording (): { logger: LoggerPort, lines: string[] } {
  const lines: string[] = []
  const keep = (obj: object, msg: string): void => { lines.push(`${msg} ${JSON.stringify(obj)}`) }
  return { logger: { info: keep, warn: keep, error: keep, debug: keep }, lines }
}

t.test('facts.refuse() and a thrown PolicyRefusal are 400s with the policy\'s own message', async t => {
  const { logger } = recording()
  const byTool = new PolicyCalls({ ...defaultPolicy, databaseName: i => i.refuse('give the ns parameter') }, logger, [SECRET])
  const err = (() => { try { byTool.databaseName(instance); return undefined } catch (e) { return e } })()
  t.type(err, BadRequestError)
  t.equal((err as Error).message, 'give the ns parameter')
  const byClass = new PolicyCalls({ ...defaultPolicy, username: () => { throw new PolicyRefusal('usernames are assigned by the platform team') } }, logger, [SECRET])
  t.throws(() => byClass.username(binding), { message: 'usernames are assigned by the platform team' })
  // A refusal made with another copy of the class (a policy folder with its own dependency) is recognised by its code.
  const foreign = Object.assign(new Error('refused elsewhere'), { code: 'POLICY_REFUSED' })
  const byCode = new PolicyCalls({ ...defaultPolicy, roles: () => { throw foreign } }, logger, [SECRET])
  t.throws(() => byCode.roles(binding), BadRequestError)
})

t.test('any other throw: the error names only the hook; the log has the detail with secrets scrubbed', async t => {
  const { logger, lines } = recording()
  const calls = new PolicyCalls({
    ...defaultPolicy,
    credentials: (b) => { throw new Error(`cannot use ${b.password} with mongodb://u:${b.password}@h and ${SECRET}`) }
  }, logger, [SECRET])
  const err = (() => { try { calls.credentials(binding, 'u', 'hunter2-password', {}, ['hunter2-password']); return undefined } catch (e) { return e } })()
  t.type(err, PolicyError)
  t.equal((err as Error).message, 'policy hook credentials failed')
  t.equal((err as { cause?: unknown }).cause, undefined, 'the hook\'s own error (and its stack) is not kept')
  const log = lines.join('\n')
  t.match(log, /policy hook failed/)
  t.match(log, /cannot use \[redacted\]/)
  t.notMatch(log, /hunter2-password/)
  t.notMatch(log, new RegExp(SECRET))
})

t.test('a derived password a hook leaks in its message is scrubbed too', async t => {
  const { logger, lines } = recording()
  let derived = ''
  const calls = new PolicyCalls({ ...defaultPolicy, password: b => { derived = b.derive('x'); throw new Error(`oops ${derived}`) } }, logger, [SECRET])
  t.throws(() => calls.password(binding, () => 'derived-secret-value-123'), PolicyError)
  t.equal(derived, 'derived-secret-value-123')
  t.notMatch(lines.join('\n'), /derived-secret-value-123/)
})

t.test('results are checked: promises, arrays, class instances and values JSON cannot carry are refused', async t => {
  const { logger } = recording()
  const make = (policy: Partial<Policy>): PolicyCalls => new PolicyCalls({ ...defaultPolicy, ...policy }, logger, [SECRET])
  const asyncHook = make({ databaseName: (async () => 'db') as unknown as Policy['databaseName'] })
  t.throws(() => asyncHook.databaseName(instance), { message: 'policy hook databaseName failed', detail: /Promise/ })
  const rejecting = make({ username: (() => Promise.reject(new Error('late'))) as unknown as Policy['username'] })
  t.throws(() => rejecting.username(binding), PolicyError, 'a rejected promise is refused and does not surface later')
  t.throws(() => make({ credentials: () => [] as unknown as Record<string, never> }).credentials(binding, 'u', 'p', {}, ['p']), PolicyError)
  t.throws(() => make({ credentials: () => new Map() as unknown as Record<string, never> }).credentials(binding, 'u', 'p', {}, ['p']), PolicyError)
  t.throws(() => make({ credentials: () => ({ when: new Date() }) }).credentials(binding, 'u', 'p', {}, ['p']), PolicyError)
  t.throws(() => make({ credentials: () => ({ n: 10n }) as unknown as Record<string, never> }).credentials(binding, 'u', 'p', {}, ['p']), PolicyError)
  t.throws(() => make({ credentials: () => ({ f: () => 1 }) as unknown as Record<string, never> }).credentials(binding, 'u', 'p', {}, ['p']), PolicyError)
  t.same(make({ credentials: (_b, c) => ({ ...c, list: [1, 'a', null, { x: true }] }) }).credentials(binding, 'u', 'p', { a: 1 }, ['p']), { a: 1, list: [1, 'a', null, { x: true }] })
  t.throws(() => make({ roles: () => [{ roleName: 'read' }] as never }).roles(binding), PolicyError)
  t.throws(() => make({ roles: () => [] }).roles(binding), PolicyError)
  t.throws(() => make({ clusterName: () => 'not a valid name!' }).clusterName(instance), PolicyError)
  t.throws(() => make({ password: () => 'short' }).password(binding, () => 'x'), PolicyError)
})

t.test('a failing credentials hook leaves no ready binding and no Atlas user', async t => {
  const { broker, atlas, storage } = makeBroker({ policy: { ...defaultPolicy, credentials: () => { throw new Error('broken') } } })
  await broker.provision('i', provision, false, {})
  const err = await broker.bind('i', 'b', bind, false, {}).catch((e: unknown) => e)
  t.type(err, InternalError)
  t.equal((err as Error).message, 'policy hook credentials failed')
  t.equal(atlas.users.size, 0, 'the user was removed')
  const record = await storage.getBinding('b')
  t.ok(record === undefined || record.state !== 'ready', 'no ready binding')
})

t.test('a refusing databaseName hook: provision is a 400 and nothing is recorded', async t => {
  const { broker, storage } = makeBroker({ policy: { ...defaultPolicy, databaseName: i => i.refuse('no database for you') } })
  const err = await broker.provision('i', { ...provision, parameters: {} }, false, {}).catch((e: unknown) => e)
  t.type(err, BadRequestError)
  t.equal((err as Error).message, 'no database for you')
  t.equal(await storage.getInstance('i'), undefined)
})

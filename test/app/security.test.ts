/**
 * Security: failed logins are rate-limited per client, TLS can be served directly, the credentials secret
 * rotates without breaking existing bindings, and no secret reaches a response body or a log line on any
 * error path.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { Agent } from 'undici'
import { AtlasSimulator } from '../../src/adapters/atlas/simulator/atlas-simulator.js'
import { MemoryStorage } from '../../src/adapters/storage/memory-storage.js'
import { composeBroker, readTls } from '../../src/app/compose.js'
import { loadConfig } from '../../src/app/config.js'
import { BrokerMetrics } from '../../src/adapters/metrics/prometheus-metrics.js'
import { InternalError } from '../../src/ports/service-broker.js'
import { FakeAtlas } from '../fakes/fake-atlas.js'
import { AUTH, BROKER_PASS, bindBody, captureLogger, headers, makeApp, makeBroker, PLAN_ID, provisionBody, SERVICE_ID } from '../helpers/broker.js'

t.test('login limiting: per (client, username), slowed, and never refusing the right password', async t => {
  const metrics = new BrokerMetrics()
  const { app, logLines } = await makeApp(t, {}, { authFailuresPerMinute: 5, maxAuthDelayMs: 60, metrics: { metrics, public: true } })
  const as = (user: string, password: string): Record<string, string> => ({ ...headers(), authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` })
  const nat = '10.0.0.1' // many clients behind one address
  const statuses: number[] = []
  const times: number[] = []
  for (let i = 0; i < 8; i++) {
    const started = Date.now()
    statuses.push((await app.inject({ method: 'GET', url: '/v2/catalog', headers: as('broker-user', `guess-${i}`), remoteAddress: nat })).statusCode)
    times.push(Date.now() - started)
  }
  t.same(statuses, [401, 401, 401, 401, 401, 429, 429, 429], 'limited after 5 failures in the minute')
  t.ok(times[3]! >= 50, `failures are slowed (4th answered after ${times[3]} ms)`)
  t.ok(times[6]! < 50, 'limited attempts are answered at once (no socket held)')
  const right = await app.inject({ method: 'GET', url: '/v2/catalog', headers: headers(), remoteAddress: nat })
  t.equal(right.statusCode, 200, 'the platform, behind the same address, is always let in')
  t.equal((await app.inject({ method: 'GET', url: '/v2/catalog', headers: as('someone-else', 'x'), remoteAddress: nat })).statusCode, 401, 'another username has its own count')
  const limited = await app.inject({ method: 'GET', url: '/v2/catalog', headers: as('broker-user', 'again'), remoteAddress: nat })
  t.ok(Number(limited.headers['retry-after']) > 0)
  t.match(limited.json(), { description: /too many failed authentication attempts/ })
  for (let i = 0; i < 10; i++) {
    const { authorization: _none, ...noAuth } = headers()
    t.equal((await app.inject({ method: 'GET', url: '/v2/catalog', headers: noAuth, remoteAddress: '10.0.0.3' })).statusCode, 401)
  }
  t.equal((await app.inject({ method: 'GET', url: '/v2/catalog', headers: as('broker-user', 'first'), remoteAddress: '10.0.0.3' })).statusCode, 401, 'no Authorization header did not count as a guess')
  t.match(logLines.join('\n'), /"level":40.*login limited/, 'limiting is logged at warn')
  const text = (await app.inject({ method: 'GET', url: '/metrics', headers: headers() })).body
  t.match(text, /atlas_broker_auth_failures_total\{outcome="limited"\} [1-9]/)
  t.match(text, /atlas_broker_auth_failures_total\{outcome="delayed"\} [1-9]/)
})

t.test('TRUST_PROXY: a trusted proxy\'s X-Forwarded-For names the client; a client cannot choose its own address', async t => {
  const { app } = await makeApp(t, {}, { authFailuresPerMinute: 2, maxAuthDelayMs: 1, trustProxy: ['127.0.0.1'] })
  const bad = { ...headers(), authorization: `Basic ${Buffer.from('broker-user:guess').toString('base64')}` }
  // Direct from an untrusted address, rotating X-Forwarded-For: still one client.
  const direct = []
  for (let i = 0; i < 4; i++) direct.push((await app.inject({ method: 'GET', url: '/v2/catalog', headers: { ...bad, 'x-forwarded-for': `192.0.2.${i}` }, remoteAddress: '10.9.9.9' })).statusCode)
  t.same(direct, [401, 401, 429, 429])
  // Through the trusted proxy, two clients are told apart.
  const viaProxy = async (client: string): Promise<number> =>
    (await app.inject({ method: 'GET', url: '/v2/catalog', headers: { ...bad, 'x-forwarded-for': client }, remoteAddress: '127.0.0.1' })).statusCode
  t.same([await viaProxy('198.51.100.1'), await viaProxy('198.51.100.1'), await viaProxy('198.51.100.1')], [401, 401, 429])
  t.equal(await viaProxy('198.51.100.2'), 401, 'another client behind the proxy is not limited')
})

t.test('TRUST_PROXY as a hop count: the nearest hop is believed', async t => {
  const { app } = await makeApp(t, {}, { authFailuresPerMinute: 1, maxAuthDelayMs: 1, trustProxy: 1 })
  const bad = { ...headers(), authorization: `Basic ${Buffer.from('broker-user:guess').toString('base64')}` }
  const send = async (client: string): Promise<number> =>
    (await app.inject({ method: 'GET', url: '/v2/catalog', headers: { ...bad, 'x-forwarded-for': client }, remoteAddress: '10.1.1.1' })).statusCode
  t.same([await send('203.0.113.1'), await send('203.0.113.1'), await send('203.0.113.2')], [401, 429, 401])
})

t.test('TLS from certificate and key files', async t => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tls-'))
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' })
  const running = await composeBroker(loadConfig({ LOCAL_MODE: 'true', TLS_CERT_FILE: path.join(dir, 'cert.pem'), TLS_KEY_FILE: path.join(dir, 'key.pem') }), captureLogger('silent').logger)
  t.teardown(() => running.close())
  const address = await running.app.listen({ port: 0, host: '127.0.0.1' })
  t.match(address, /^https:\/\//)
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } })
  t.teardown(() => dispatcher.close())
  const { request } = await import('undici')
  const r = await request(`${address}/v2/catalog`, {
    dispatcher,
    headers: { authorization: `Basic ${Buffer.from(`${running.credentials.username}:${running.credentials.password}`).toString('base64')}`, 'x-broker-api-version': '2.17' }
  })
  t.equal(r.statusCode, 200)
  await r.body.text()
  t.throws(() => loadConfig({ LOCAL_MODE: 'true', TLS_CERT_FILE: '/x.pem' }), /give both or neither/)
})

t.test('TLS files unreadable, swapped, not PEM or not a pair: one sentence naming the file', async t => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tls-bad-'))
  for (const name of ['a', 'b']) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-keyout', path.join(dir, `${name}-key.pem`), '-out', path.join(dir, `${name}-cert.pem`)], { stdio: 'ignore' })
  }
  const f = (name: string): string => path.join(dir, name)
  t.throws(() => readTls({ certFile: f('missing.pem'), keyFile: f('a-key.pem') }), { message: new RegExp(`TLS_CERT_FILE: cannot read ${f('missing.pem')} \\(no such file\\)`) })
  t.throws(() => readTls({ certFile: f('a-key.pem'), keyFile: f('a-cert.pem') }), { message: /TLS_CERT_FILE\/TLS_KEY_FILE: swapped/ })
  t.throws(() => readTls({ certFile: f('a-cert.pem'), keyFile: f('b-key.pem') }), { message: new RegExp(`TLS_KEY_FILE: ${f('b-key.pem')} is not the private key of the certificate in ${f('a-cert.pem')}`) })
  t.throws(() => readTls({ certFile: f('a-cert.pem'), keyFile: f('a-cert.pem') }), { message: /TLS_KEY_FILE: .* is not a PEM private key/ })
  t.same(Object.keys(readTls({ certFile: f('a-cert.pem'), keyFile: f('a-key.pem') })), ['cert', 'key'])
})

t.test('rotating the credentials secret keeps existing bindings\' credentials', async t => {
  const atlas = new FakeAtlas()
  const storage = new MemoryStorage()
  const before = makeBroker({ atlas, storage, settings: { credentialsSecret: 'a'.repeat(40), credentialsKeyId: 'k1' } })
  await before.broker.provision('i', { serviceId: SERVICE_ID, planId: PLAN_ID, organizationGuid: 'o', spaceGuid: 's' }, false, {})
  const old = await before.broker.bind('i', 'old', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {})
  t.equal((await storage.getBinding('old'))?.keyId, 'k1', 'the key id is recorded')

  const after = makeBroker({ atlas, storage, settings: { credentialsSecret: 'b'.repeat(40), credentialsKeyId: 'k2', previousCredentialsSecrets: { k1: 'a'.repeat(40) } } })
  const repeat = await after.broker.bind('i', 'old', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {})
  t.equal(repeat.alreadyExists, true)
  t.equal(repeat.credentials?.password, old.credentials?.password, 'same credentials after the rotation')
  t.equal((await after.broker.getBinding('i', 'old', {})).credentials?.password, old.credentials?.password)
  const fresh = await after.broker.bind('i', 'new', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {})
  t.equal((await storage.getBinding('new'))?.keyId, 'k2')
  t.equal(atlas.users.get('new')?.password, fresh.credentials?.password)

  const forgotten = makeBroker({ atlas, storage, settings: { credentialsSecret: 'b'.repeat(40), credentialsKeyId: 'k2' } })
  const err = await forgotten.broker.getBinding('i', 'old', {}).catch((e: unknown) => e)
  t.type(err, InternalError)
  t.match((err as Error).message, /CREDENTIALS_PREVIOUS_SECRETS/)
  t.same(loadConfig({ LOCAL_MODE: 'true', CREDENTIALS_PREVIOUS_SECRETS: `k1=${'a'.repeat(32)},k0=${'c'.repeat(33)}` }).previousCredentialsSecrets, { k1: 'a'.repeat(32), k0: 'c'.repeat(33) })
})

t.test('no secret in any response body or log line, across error paths', async t => {
  const sim = new AtlasSimulator({ seedClusters: ['Main'], delays: { clusterCreateMs: 0, clusterUpdateMs: 0, clusterDeleteMs: 0, flexCreateMs: 0, userPropagationMs: 0 } })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  const secrets = { BROKER_PASSWORD: 'broker-pass-0123456789', CREDENTIALS_SECRET: 'credentials-secret-'.padEnd(40, 'x'), ATLAS_PRIVATE_KEY: sim.privateKey }
  const env = {
    ATLAS_BASE_URL: url, ATLAS_PROJECT_ID: sim.projectId, ATLAS_PUBLIC_KEY: sim.publicKey, ATLAS_DEFAULT_CLUSTER: 'Main',
    BROKER_USERNAME: 'platform', USER_PROPAGATION_POLL_MS: '10', LOG_LEVEL: 'trace', ...secrets
  }
  const logs = captureLogger('trace')
  const running = await composeBroker(loadConfig(env), logs.logger)
  t.teardown(() => running.close())
  const auth = `Basic ${Buffer.from(`platform:${secrets.BROKER_PASSWORD}`).toString('base64')}`
  const h = { ...headers(), authorization: auth }
  const bodies: string[] = []
  const send = async (method: 'GET' | 'PUT' | 'DELETE', url: string, payload?: string, extra: Record<string, string> = {}): Promise<void> => {
    const r = await running.app.inject({ method, url, headers: { ...h, ...extra }, ...(payload === undefined ? {} : { payload }) })
    bodies.push(r.body)
  }
  const I = '/v2/service_instances'
  await send('PUT', `${I}/s1`, JSON.stringify(provisionBody()))
  await send('PUT', `${I}/s1/service_bindings/b1`, JSON.stringify(bindBody()))
  await send('PUT', `${I}/s1/service_bindings/b1`, JSON.stringify(bindBody()))
  await send('GET', `${I}/s1/service_bindings/b1`)
  sim.addFault({ kind: 'status', status: 500, method: 'POST', path: '/databaseUsers', times: 1 })
  await send('PUT', `${I}/s1/service_bindings/b2`, JSON.stringify(bindBody()))
  sim.addFault({ kind: 'status', status: 400, method: 'DELETE', path: '/databaseUsers', times: 1 })
  await send('DELETE', `${I}/s1/service_bindings/b1?service_id=${SERVICE_ID}&plan_id=${PLAN_ID}`)
  await send('PUT', `${I}/s1`, '{bad json')
  await send('PUT', `${I}/s1`, JSON.stringify(provisionBody({ parameters: { cluster: 'Nope' } })))
  await send('GET', '/v2/catalog', undefined, { authorization: `Basic ${Buffer.from(`platform:${secrets.BROKER_PASSWORD}x`).toString('base64')}` })
  await send('GET', '/v2/catalog', undefined, { 'x-broker-api-version': '9.9' })
  await send('GET', '/metrics')
  const wrongKeys = await composeBroker(loadConfig({ ...env, ATLAS_PRIVATE_KEY: 'wrong-private-key-value' }), logs.logger)
  t.teardown(() => wrongKeys.close())
  bodies.push((await wrongKeys.app.inject({ method: 'PUT', url: `${I}/s9`, headers: h, payload: JSON.stringify(provisionBody()) })).body)
  bodies.push((await wrongKeys.app.inject({ method: 'GET', url: '/readyz' })).body)

  const bindingPasswords = sim.databaseUsers().map(u => u.password)
  t.ok(bindingPasswords.length >= 1)
  const all = [...bodies.filter(b => !b.includes('"credentials"')), ...logs.lines].join('\n')
  for (const [name, value] of Object.entries({ ...secrets, wrongKey: 'wrong-private-key-value', AUTH, BROKER_PASS, authHeader: auth })) {
    t.notOk(all.includes(value), `${name} appears nowhere`)
  }
  for (const password of bindingPasswords) t.notOk(all.includes(password), 'no binding password outside the credentials responses')
  t.ok(logs.lines.length > 20, `${logs.lines.length} log lines checked`)
})

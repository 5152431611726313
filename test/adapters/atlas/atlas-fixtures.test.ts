/**
 * Recorded reality (test/fixtures/atlas/*.json, each derived from a recording of real Atlas traffic it names):
 *   1. the simulator answers every fixture's request with the same shape: every field the recording carries,
 *      of the same JSON type; the same status, content type, error envelope and errorCode;
 *   2. the adapter parses every fixture: served as recorded by a replay server, it yields the right view or
 *      the right port error.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { HttpAtlasAdapter } from '../../../src/adapters/atlas/http-atlas-adapter.js'
import { AtlasSimulator, type SimulatorOptions } from '../../../src/adapters/atlas/simulator/atlas-simulator.js'
import {
  AtlasAuthError, AtlasIpNotAllowedError, AtlasRateLimitedError, AtlasRequestError, ClusterNotFoundError, DatabaseUserExistsError,
  DatabaseUserNotFoundError, ProjectNotFoundError, TerminationProtectedError, type AtlasPort
} from '../../../src/ports/atlas-port.js'

interface Fixture {
  recording: string
  request: {
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
    path: string
    version?: string
    body?: unknown
    form?: string
    unauthenticated?: boolean
    accessList?: string[]
    rateLimit?: { capacity: number, refillPerSecond: number }
    tokenRequestsPerMinute?: number
    wrongSecret?: boolean
    /** The credentials' roles, when the call needs more than Project Owner (creating projects). */
    roles?: SimulatorOptions['roles']
  }
  response: { status: number, contentType: string, headers?: Record<string, string>, body: unknown }
}

const DIR = new URL('../../fixtures/atlas/', import.meta.url)
const fixtures = new Map(readdirSync(DIR).filter(f => f.endsWith('.json')).map(f => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(new URL(f, DIR), 'utf8')) as Fixture]))

const kind = (v: unknown): string => v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v

/** Where `simulated` lacks a field `recorded` has, or has it with another JSON type. */
function shapeProblems (recorded: unknown, simulated: unknown, at = '$'): string[] {
  if (kind(recorded) !== kind(simulated)) return [`${at}: recorded ${kind(recorded)}, simulated ${kind(simulated)}`]
  if (Array.isArray(recorded)) {
    if (recorded.length === 0) return []
    // Some simulated item has the recorded item's shape (lists hold items in other states too).
    const tries = (simulated as unknown[]).map(item => shapeProblems(recorded[0], item, `${at}[0]`))
    if (tries.length === 0) return [`${at}: recorded items, simulated none`]
    return tries.find(p => p.length === 0) ?? tries[0]!
  }
  if (kind(recorded) !== 'object') return []
  const problems: string[] = []
  for (const [key, value] of Object.entries(recorded as Record<string, unknown>)) {
    if (!(key in (simulated as object))) problems.push(`${at}.${key}: missing`)
    else problems.push(...shapeProblems(value, (simulated as Record<string, unknown>)[key], `${at}.${key}`))
  }
  return problems
}

t.test('every endpoint the broker calls has a recorded-reality fixture naming its recording', async t => {
  for (const name of ['project-get', 'root-get', 'cluster-create', 'cluster-get-idle', 'cluster-list', 'cluster-patch-resize', 'cluster-delete', 'cluster-status',
    'flex-create', 'flex-get', 'flex-list', 'flex-delete', 'user-create', 'user-get', 'user-list', 'user-patch', 'user-delete', 'oauth-token']) {
    t.ok(fixtures.has(name), name)
    t.match(fixtures.get(name)?.recording, /\S{10}/, `${name} names its recording`)
  }
})

// ---------------------------------------------------------------------------------------------
// 1. The simulator answers as recorded.

async function simulated (t: Test, name: string, f: Fixture): Promise<{ status: number, contentType: string, headers: Record<string, string>, body: unknown }> {
  const options: SimulatorOptions = {
    seedClusters: ['Cluster0'],
    record: true,
    ...(f.request.accessList === undefined ? {} : { accessList: f.request.accessList }),
    ...(f.request.rateLimit === undefined ? {} : { rateLimit: f.request.rateLimit }),
    ...(f.request.tokenRequestsPerMinute === undefined ? {} : { tokenRequestsPerMinute: f.request.tokenRequestsPerMinute }),
    ...(f.request.roles === undefined ? {} : { roles: f.request.roles }),
    delays: { clusterCreateMs: name === 'cluster-get-creating' || name === 'cluster-create' ? 60_000 : 0, clusterUpdateMs: 60_000, clusterDeleteMs: 60_000, flexCreateMs: name === 'flex-create' ? 60_000 : 0, userPropagationMs: 0 }
  }
  const sim = new AtlasSimulator(options)
  const url = await sim.listen()
  const atlas = new HttpAtlasAdapter({ baseUrl: url, projectId: sim.projectId, credentials: { kind: 'digest', publicKey: sim.publicKey, privateKey: sim.privateKey }, maxRetries: 0 })
  t.teardown(async () => { await atlas.close(); await sim.close() })
  const cluster = 'osb-3f9a1c2b4d5e6f708'
  const names: Record<string, string> = {
    groupId: sim.projectId, clusterName: cluster, flexCluster: 'flex-1', protectedCluster: 'protected-1', missingCluster: 'gone-1', username: 'b-4f2a9c1e', missingUser: 'nobody'
  }
  // The state each request needs, made through the simulator's own API (the answers under test come after).
  if (f.request.rateLimit === undefined && f.request.accessList === undefined && !f.request.path.startsWith('/api/oauth')) {
    if (name !== 'cluster-create') {
      await atlas.createCluster({ name: cluster, kind: 'dedicated', instanceSize: 'M10', providerName: 'AWS', regionName: 'US_EAST_1', tags: [{ key: 'osb-instance-id', value: 'i-1' }] })
    }
    if (name !== 'flex-create') await atlas.createCluster({ name: 'flex-1', kind: 'flex', providerName: 'AWS', regionName: 'US_EAST_1', tags: [] })
    await atlas.createCluster({ name: 'protected-1', kind: 'dedicated', instanceSize: 'M10', providerName: 'AWS', regionName: 'US_EAST_1', tags: [], terminationProtectionEnabled: true })
    if (name !== 'user-create' && name !== 'user-create-x509') {
      await atlas.createDatabaseUser({ username: 'b-4f2a9c1e', password: 'a-long-password', roles: [{ roleName: 'readWrite', databaseName: 'appdb' }], scopes: ['Cluster0'], labels: [{ key: 'osb-binding-id', value: 'b-4f2a9c1e' }] })
    }
  }
  const path = f.request.path.replace(/\{(\w+)\}/g, (_m, key: string) => names[key] ?? key)
  let body = JSON.parse(JSON.stringify(f.request.body ?? null).replaceAll('{groupId}', sim.projectId).replaceAll('{orgId}', sim.orgId)) as Record<string, unknown> | null
  if (name === 'cluster-patch-resize' && body !== null) {
    // The recording's shard id is another cluster's: the simulated cluster's own id takes its place.
    const own = (sim.clusterBody(cluster) as { replicationSpecs: Array<{ id: string }> }).replicationSpecs[0]!.id
    body = { replicationSpecs: (body.replicationSpecs as Array<Record<string, unknown>>).map(s => ({ ...s, id: own })) }
  }
  if (f.request.path.startsWith('/api/oauth')) {
    const secret = f.request.wrongSecret === true ? 'wrong' : sim.clientSecret
    const r = await request(`${url}${path}`, {
      method: 'POST', body: f.request.form,
      headers: { authorization: `Basic ${Buffer.from(`${sim.clientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }
    })
    const text = await r.body.text()
    return { status: r.statusCode, contentType: String(r.headers['content-type']), headers: r.headers as Record<string, string>, body: text === '' ? null : JSON.parse(text) }
  }
  if (f.request.unauthenticated === true || f.request.version === '2019-01-01' || f.request.rateLimit !== undefined) {
    // Raw requests: no credentials, an unknown version, or a rate-limited burst; the adapter would retry or refuse.
    if (f.request.rateLimit !== undefined) await atlas.getProject().catch(() => undefined)
    const auth = f.request.unauthenticated === true ? undefined : await signedAuthorization(sim, url, f.request.method, path)
    const r = await request(`${url}${path}`, { method: f.request.method, headers: { accept: `application/vnd.atlas.${f.request.version ?? '2023-01-01'}+json`, ...(auth === undefined ? {} : { authorization: auth }) } })
    const text = await r.body.text()
    return { status: r.statusCode, contentType: String(r.headers['content-type']), headers: r.headers as Record<string, string>, body: text === '' ? null : JSON.parse(text) }
  }
  const http = (atlas as unknown as { http: { send: (req: object) => Promise<unknown> } }).http
  const apiPath = path.replace(/^\/api\/atlas\/v2/, '')
  await http.send({ method: f.request.method, path: apiPath, version: f.request.version, idempotent: true, ...(body === null ? {} : { body }) }).catch(() => undefined)
  const exchange = sim.exchanges.filter(e => e.method === f.request.method && e.path === path.split('?')[0] && e.status !== 401).at(-1)
  if (exchange === undefined) throw new Error(`${name}: no answer recorded for ${f.request.method} ${path}`)
  return { status: exchange.status, contentType: exchange.responseHeaders['Content-Type'] ?? '', headers: exchange.responseHeaders, body: exchange.responseBody ?? null }
}

/** An Authorization header for one raw request, answering the simulator's challenge. */
async function signedAuthorization (sim: AtlasSimulator, url: string, method: string, path: string): Promise<string> {
  const { DigestAuth } = await import('../../../src/adapters/atlas/atlas-auth.js')
  const first = await request(`${url}${path}`, { method, headers: { accept: 'application/vnd.atlas.2023-01-01+json' } })
  await first.body.dump()
  const digest = new DigestAuth(sim.publicKey, sim.privateKey)
  const answer = digest.answer(String(first.headers['www-authenticate']), method, path)
  return answer !== undefined && 'header' in answer ? answer.header : ''
}

for (const [name, f] of fixtures) {
  t.test(`simulator answers like the recording: ${name}`, async t => {
    const got = await simulated(t, name, f)
    t.equal(got.status, f.response.status, 'status')
    t.equal(got.contentType.toLowerCase(), f.response.contentType.toLowerCase(), 'content type')
    t.same(shapeProblems(f.response.body, got.body), [], 'every recorded field, with its type')
    const recorded = f.response.body as { errorCode?: string, error?: string } | null
    if (recorded?.errorCode !== undefined) {
      t.equal((got.body as { errorCode?: string }).errorCode, recorded.errorCode, 'errorCode')
      t.same(Object.keys(got.body as object).sort(), Object.keys(recorded).sort(), 'the same envelope')
    }
    if (recorded?.error !== undefined && typeof recorded.error === 'string') t.equal((got.body as { error?: string }).error, recorded.error, 'OAuth error')
    for (const header of Object.keys(f.response.headers ?? {})) t.ok(Object.keys(got.headers).some(h => h.toLowerCase() === header.toLowerCase()), `header ${header}`)
  })
}

// ---------------------------------------------------------------------------------------------
// 2. The adapter parses what Atlas answers.

/** Serves fixtures as recorded, matched by method and path template; every request is answered at once. */
async function replay (t: Test, names: string[]): Promise<string> {
  const chosen = names.map(n => { const f = fixtures.get(n); if (f === undefined) throw new Error(`no fixture ${n}`); return f })
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? ''
    const hit = chosen.find(f => f.request.method === req.method &&
      new RegExp(`^${f.request.path.split('?')[0]!.replace(/\{\w+\}/g, '[^/]+')}$`).test(path))
    req.resume()
    if (hit === undefined) { res.writeHead(404, { 'content-type': 'application/json' }); res.end('{"error":404,"errorCode":"RESOURCE_NOT_FOUND","detail":"not in the replay"}'); return }
    res.writeHead(hit.response.status, { 'content-type': hit.response.contentType, ...hit.response.headers })
    res.end(hit.response.body === null ? undefined : JSON.stringify(hit.response.body))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise<void>(resolve => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function adapterOver (t: Test, names: string[], kind: 'digest' | 'service-account' = 'digest', projectId = '65a1b2c3d4e5f6a7b8c9d0e1'): Promise<AtlasPort> {
  const url = await replay(t, names)
  const atlas = new HttpAtlasAdapter({
    baseUrl: url, projectId, maxRetries: 1, backoffBaseMs: 10, requestTimeoutMs: 2000, defaultBudgetMs: 1500,
    credentials: kind === 'digest' ? { kind, publicKey: 'qhzmvwxp', privateKey: 'k' } : { kind, clientId: 'mdb_sa_id_x', clientSecret: 's' }
  })
  t.teardown(() => atlas.close())
  return atlas
}

const user = { username: 'b-4f2a9c1e', password: 'a-long-password', roles: [{ roleName: 'readWrite', databaseName: 'appdb' }], scopes: ['Cluster0'], labels: [] }

t.test('adapter parses the recorded answers', async t => {
  const project = await (await adapterOver(t, ['project-get'])).getProject()
  t.same(project, { id: '65a1b2c3d4e5f6a7b8c9d0e1', name: 'platform-dbs' })
  t.same(await (await adapterOver(t, ['root-get'])).credentialRoles(), [{ roleName: 'GROUP_OWNER', groupId: '65a1b2c3d4e5f6a7b8c9d0e1' }])

  const created = await (await adapterOver(t, ['cluster-create'])).createCluster({ name: 'osb-3f9a1c2b4d5e6f708', kind: 'dedicated', instanceSize: 'M10', providerName: 'AWS', regionName: 'US_EAST_1', tags: [] })
  t.match(created, { kind: 'dedicated', stateName: 'CREATING', instanceSize: 'M10', providerName: 'AWS', regionName: 'US_EAST_1', connectionStrings: {} })
  const idle = await (await adapterOver(t, ['cluster-get-idle'])).getCluster('osb-3f9a1c2b4d5e6f708')
  t.match(idle, { stateName: 'IDLE', instanceSize: 'M10', mongoDBVersion: '8.0.16', backupEnabled: false, terminationProtectionEnabled: false, tags: [{ key: 'osb-instance-id' }] })
  t.match(idle.connectionStrings, { standard: /^mongodb:\/\//, standardSrv: /^mongodb\+srv:\/\// })
  const listed = await (await adapterOver(t, ['cluster-list', 'flex-list'])).listClusters()
  t.same(listed.map(c => [c.name, c.kind]), [['osb-3f9a1c2b4d5e6f708', 'dedicated'], ['flex-1', 'flex']])
  const resized = await (await adapterOver(t, ['cluster-get-idle', 'cluster-patch-resize'])).updateCluster('osb-3f9a1c2b4d5e6f708', 'dedicated', { instanceSize: 'M20' })
  t.match(resized, { stateName: 'UPDATING', instanceSize: 'M20' })
  await (await adapterOver(t, ['cluster-delete'])).deleteCluster('osb-3f9a1c2b4d5e6f708', 'dedicated')
  t.equal(await (await adapterOver(t, ['cluster-status'])).clusterChangeStatus('osb-3f9a1c2b4d5e6f708'), 'APPLIED')
  const flex = await (await adapterOver(t, ['cluster-flex-in-cluster-api', 'flex-get'])).getCluster('flex-1')
  t.match(flex, { kind: 'flex', instanceSize: 'FLEX', providerName: 'AWS', regionName: 'US_EAST_1', stateName: 'IDLE' })
  const flexCreated = await (await adapterOver(t, ['flex-create'])).createCluster({ name: 'flex-1', kind: 'flex', providerName: 'AWS', regionName: 'US_EAST_1', tags: [] })
  t.match(flexCreated, { kind: 'flex', stateName: 'CREATING', tags: [], connectionStrings: { standardSrv: /^mongodb\+srv/ } })
  await (await adapterOver(t, ['flex-delete'])).deleteCluster('flex-1', 'flex')

  t.match(await (await adapterOver(t, ['user-create'])).createDatabaseUser(user), { username: 'b-4f2a9c1e', scopes: ['Cluster0'], roles: [{ roleName: 'readWrite' }] })
  t.match(await (await adapterOver(t, ['user-get'])).getDatabaseUser('b-4f2a9c1e'), { labels: [{ key: 'osb-binding-id', value: 'b-4f2a9c1e' }] })
  t.match(await (await adapterOver(t, ['user-patch'])).updateDatabaseUser('b-4f2a9c1e', { roles: [{ roleName: 'read', databaseName: 'appdb' }] }), { roles: [{ roleName: 'read' }] })
  t.equal((await (await adapterOver(t, ['user-list'])).listDatabaseUsers()).length, 1)
  await (await adapterOver(t, ['user-delete'])).deleteDatabaseUser('b-4f2a9c1e')
  t.match(await (await adapterOver(t, ['oauth-token', 'project-get'], 'service-account')).getProject(), { name: 'platform-dbs' })

  t.match(await (await adapterOver(t, ['user-create-x509'])).createDatabaseUser({ ...user, username: 'b-7d1e2f3a', auth: 'x509' }), { username: 'b-7d1e2f3a', auth: 'x509' })
  await (await adapterOver(t, ['access-list-add'])).addAccessListEntries([{ cidrBlock: '203.0.113.7/32', comment: 'orders app' }])
  const org = await adapterOver(t, ['project-create']) as unknown as HttpAtlasAdapter
  t.same(await org.createProject({ name: 'osb-5c2e9a0b7d31f4e6a8b9c0d1', orgId: 'a0123456789abcdef012345a', tags: [] }), { id: '6a793f62c0eb9e7a1771502a', name: 'osb-5c2e9a0b7d31f4e6a8b9c0d1', tags: [] })
})

t.test('adapter turns the recorded errors into port errors', async t => {
  await t.rejects((await adapterOver(t, ['cluster-not-found'])).getCluster('gone-1'), ClusterNotFoundError)
  await t.rejects((await adapterOver(t, ['cluster-termination-protected'])).deleteCluster('protected-1', 'dedicated'), TerminationProtectedError)
  await t.rejects((await adapterOver(t, ['flex-non-flex'])).updateCluster('osb-3f9a1c2b4d5e6f708', 'flex', { tags: [] }), AtlasRequestError)
  await t.rejects((await adapterOver(t, ['user-get-missing'])).getDatabaseUser('nobody'), DatabaseUserNotFoundError)
  await t.rejects((await adapterOver(t, ['user-delete-missing'])).deleteDatabaseUser('nobody'), DatabaseUserNotFoundError)
  await t.rejects((await adapterOver(t, ['user-exists'])).createDatabaseUser(user), DatabaseUserExistsError)
  await t.rejects((await adapterOver(t, ['project-not-found'], 'digest', 'ffffffffffffffffffffffff')).getProject(), ProjectNotFoundError)
  await t.rejects((await adapterOver(t, ['invalid-version'])).getProject(), AtlasRequestError)
  await t.rejects((await adapterOver(t, ['unauthorized-challenge'])).getProject(), AtlasAuthError, 'a challenge answered twice and refused: wrong keys')
  const ip = await (await adapterOver(t, ['ip-not-on-access-list'])).getProject().catch((e: unknown) => e)
  t.type(ip, AtlasIpNotAllowedError)
  t.equal((ip as AtlasIpNotAllowedError).ip, '127.0.0.1')
  const limited = await (await adapterOver(t, ['rate-limited'])).getCluster('osb-3f9a1c2b4d5e6f708').catch((e: unknown) => e)
  t.type(limited, AtlasRateLimitedError)
  t.equal((limited as AtlasRateLimitedError).retryAfterSeconds, 5)
  const tokenLimited = await (await adapterOver(t, ['oauth-rate-limited'], 'service-account')).getProject().catch((e: unknown) => e)
  t.type(tokenLimited, AtlasRateLimitedError, 'the token endpoint\'s 429 is a rate limit, not bad credentials')
  const invalid = await (await adapterOver(t, ['oauth-invalid-client'], 'service-account')).getProject().catch((e: unknown) => e)
  t.type(invalid, AtlasAuthError)
  t.match((invalid as Error).message, /invalid_client/)
})

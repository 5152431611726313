/**
 * The adapter against the simulator behaving as Atlas may: single-use nonces, other digest algorithms, the
 * token endpoint's own rate limit, OAuth error bodies, bursts of 401s, permission errors that must not
 * trigger refreshes, the API access list, revocation, Atlas-scale backoff, resizes of realistic clusters.
 */
import t from 'tap'
import {
  AtlasAuthError, AtlasIpNotAllowedError, AtlasPermissionError, AtlasRequestError, type AtlasCluster
} from '../../../src/ports/atlas-port.js'
import { AtlasHttpClient } from '../../../src/adapters/atlas/atlas-http-client.js'
import { resizedSpecs, type RawCluster } from '../../../src/adapters/atlas/atlas-wire.js'
import { HttpAtlasAdapter } from '../../../src/adapters/atlas/http-atlas-adapter.js'
import { USER_AGENT } from '../../../src/app/version.js'
import { startSim } from '../../helpers/atlas-sim.js'

for (const strictNonces of [false, true]) {
  t.test(`digest, ${strictNonces ? 'strict (single-use) nonces' : 'reusable nonces'}: 50 concurrent calls, twice, no auth error`, async t => {
    let fallbacks = 0
    const { sim, atlas } = await startSim(t, { strictNonces }, { onDigestReuseRefused: () => { fallbacks++ } })
    await atlas.getProject()
    for (let round = 0; round < 2; round++) {
      const before = sim.stats.requests
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => atlas.getCluster('Cluster0')))
      t.same(results.filter(r => r.status === 'rejected').map(r => String((r as PromiseRejectedResult).reason)), [], `round ${round + 1}: every call succeeded`)
      const perCall = (sim.stats.requests - before) / 50
      if (!strictNonces) t.equal(perCall, 1, 'reused nonces: one round trip per call')
      if (strictNonces && round === 1) t.equal(perCall, 2, 'after the fallback: a fresh challenge per call, and no failed attempt')
    }
    t.equal(fallbacks, strictNonces ? 1 : 0, strictNonces ? 'the fallback is reported once' : 'no fallback when reuse works')
  })
}

t.test('digest: the algorithm comes from the challenge (SHA-256)', async t => {
  const { sim, atlas } = await startSim(t, { digestAlgorithm: 'SHA-256' })
  t.equal((await atlas.getProject()).id, sim.projectId)
  t.equal((await atlas.getCluster('Cluster0')).name, 'Cluster0')
})

t.test('service account: the token endpoint\'s 429 RATE_LIMITED is waited out, never taken for bad credentials', async t => {
  const { sim, atlas } = await startSim(t, { tokenRequestsPerMinute: 1, tokenWindowMs: 600 }, { auth: 'service-account', backoffBaseMs: 50 })
  await atlas.getProject()
  sim.auth.expireTokens()
  const started = Date.now()
  t.equal((await atlas.getCluster('Cluster0')).name, 'Cluster0', 'the call succeeded after the token endpoint\'s Retry-After')
  t.ok(Date.now() - started >= 500, `waited ${Date.now() - started} ms`)
  t.equal(sim.stats.tokensIssued, 2)
})

t.test('service account: OAuth error bodies ({"error":"invalid_client"}) are bad credentials, said so', async t => {
  const { sim, url } = await startSim(t)
  const bad = new HttpAtlasAdapter({ baseUrl: url, projectId: sim.projectId, credentials: { kind: 'service-account', clientId: sim.clientId, clientSecret: 'wrong' } })
  t.teardown(() => bad.close())
  const err = await bad.getProject().catch((e: unknown) => e)
  t.type(err, AtlasAuthError)
  t.match((err as Error).message, /invalid_client.*ATLAS_CLIENT_ID and ATLAS_CLIENT_SECRET/)
})

t.test('service account: a burst of 401s refreshes the token once', async t => {
  const { sim, atlas } = await startSim(t, {}, { auth: 'service-account' })
  await atlas.getProject()
  sim.auth.expireTokens()
  const results = await Promise.all(Array.from({ length: 20 }, () => atlas.getCluster('Cluster0')))
  t.equal(results.length, 20)
  t.equal(sim.stats.tokensIssued, 2, 'one refresh for the whole burst')
})

t.test('a missing role is AtlasPermissionError naming the role: no refresh, no challenge storm', async t => {
  for (const auth of ['service-account', 'digest'] as const) {
    const { sim, atlas } = await startSim(t, { roles: ['GROUP_READ_ONLY'] }, { auth })
    await atlas.getProject()
    const issued = sim.stats.tokensIssued
    const before = sim.stats.requests
    const err = await atlas.deleteCluster('Cluster0', 'dedicated').catch((e: unknown) => e)
    t.type(err, AtlasPermissionError, auth)
    t.match((err as Error).message, /lack a role for this call \(it needs Project Owner\)/)
    t.match((err as Error).message, /USER_UNAUTHORIZED/)
    t.equal(sim.stats.requests - before, 1, `${auth}: one request, nothing retried`)
    t.equal(sim.stats.tokensIssued, issued, `${auth}: no token refresh`)
    const users = await atlas.createDatabaseUser({ username: 'u', password: 'a-long-password', roles: [{ roleName: 'read', databaseName: 'd' }], scopes: [], labels: [] }).catch((e: unknown) => e)
    t.match((users as Error).message, /it needs Project Database Access Admin/)
  }
})

t.test('the broker\'s address not on the API access list: a sentence naming the address and the fix', async t => {
  const { atlas } = await startSim(t, { accessList: ['10.0.0.0/8', '192.0.2.7'] })
  const err = await atlas.getProject().catch((e: unknown) => e)
  t.type(err, AtlasIpNotAllowedError)
  t.equal((err as AtlasIpNotAllowedError).ip, '127.0.0.1')
  t.match((err as Error).message, /the broker's address 127\.0\.0\.1 is not on the API access list.*add 127\.0\.0\.1 to the access list/)
})

t.test('service account: the token is revoked on close', async t => {
  const { sim, url } = await startSim(t)
  const atlas = new HttpAtlasAdapter({ baseUrl: url, projectId: sim.projectId, credentials: { kind: 'service-account', clientId: sim.clientId, clientSecret: sim.clientSecret } })
  await atlas.getProject()
  await atlas.close()
  t.equal(sim.stats.tokensRevoked, 1)
})

t.test('User-Agent: atlas-broker/<version> (<os>; <arch>), as MongoDB\'s clients identify', async t => {
  const { sim, atlas } = await startSim(t, { record: true }, { userAgent: USER_AGENT })
  await atlas.getProject()
  t.match(sim.exchanges.at(-1)?.requestHeaders['user-agent'], /^atlas-broker\/\d+\.\d+\.\d+ \((linux|darwin|win32); (x64|arm64)\)$/)
})

t.test('backoff without Retry-After: seconds, doubling, jittered, capped; Retry-After wins when longer', async t => {
  const client = new AtlasHttpClient({ baseUrl: 'http://127.0.0.1:9', credentials: { kind: 'digest', publicKey: 'p', privateKey: 'k' } })
  t.teardown(() => client.close())
  for (let attempt = 0; attempt < 8; attempt++) {
    const step = Math.min(16_000, 1000 * 2 ** attempt)
    for (let i = 0; i < 20; i++) {
      const wait = client.backoffMs(attempt, undefined)
      t.ok(wait >= step / 2 && wait <= step, `retry ${attempt + 1}: ${Math.round(wait)} ms within [${step / 2}, ${step}]`)
    }
  }
  t.equal(client.backoffMs(0, 5000), 5000, 'Retry-After longer than the backoff is honoured')
})

t.test('resize: electable and read-only move together, analytics nodes keep their size, zero-node analytics dropped, ids kept', async t => {
  const { sim, atlas } = await startSim(t, { record: true, delays: { clusterCreateMs: 0, clusterUpdateMs: 50, clusterDeleteMs: 0, flexCreateMs: 0, userPropagationMs: 0 } })
  sim.seedCluster('Analytics', [{
    zoneName: 'Zone 1',
    regionConfigs: [
      { providerName: 'AWS', regionName: 'EU_WEST_1', priority: 7, electableSpecs: { instanceSize: 'M10', nodeCount: 3 }, readOnlySpecs: { instanceSize: 'M10', nodeCount: 1 }, analyticsSpecs: { instanceSize: 'M20', nodeCount: 1 } },
      { providerName: 'AZURE', regionName: 'US_EAST_2', priority: 6, electableSpecs: { instanceSize: 'M10', nodeCount: 2 } }
    ]
  }])
  const before = sim.clusterBody('Analytics') as unknown as RawCluster
  await atlas.updateCluster('Analytics', 'dedicated', { instanceSize: 'M30' })
  const patch = sim.exchanges.find(e => e.method === 'PATCH')!
  t.equal(patch.status, 200, 'the strict simulator accepted the PATCH')
  const sent = (patch.requestBody as { replicationSpecs: Array<Record<string, unknown>> }).replicationSpecs
  t.equal(sent[0]!.id, before.replicationSpecs?.[0]?.id, 'the shard id is kept')
  t.notOk(JSON.stringify(sent).includes('effective'), 'no effective*Specs sent back')
  t.notOk(JSON.stringify(sent).includes('zoneId'), 'no zoneId sent back')
  t.same(sent[0]!.regionConfigs, [
    { providerName: 'AWS', regionName: 'EU_WEST_1', priority: 7, electableSpecs: { instanceSize: 'M30', nodeCount: 3 }, readOnlySpecs: { instanceSize: 'M30', nodeCount: 1 }, analyticsSpecs: { instanceSize: 'M20', nodeCount: 1 } },
    { providerName: 'AZURE', regionName: 'US_EAST_2', priority: 6, electableSpecs: { instanceSize: 'M30', nodeCount: 2 }, readOnlySpecs: { instanceSize: 'M30', nodeCount: 0 } }
  ])
  await new Promise(resolve => setTimeout(resolve, 80))
  const after = await atlas.getCluster('Analytics') as AtlasCluster
  t.equal(after.instanceSize, 'M30')
  t.equal(sim.clusterBody('Analytics')?.replicationSpecs && (sim.clusterBody('Analytics') as unknown as RawCluster).replicationSpecs?.[0]?.id, before.replicationSpecs?.[0]?.id, 'Atlas kept the shard')
})

t.test('the strict simulator refuses the PATCH the broker used to send (GET body, electable size changed only)', async t => {
  const { sim, url } = await startSim(t)
  const client = new AtlasHttpClient({ baseUrl: url, credentials: { kind: 'digest', publicKey: sim.publicKey, privateKey: sim.privateKey }, backoffBaseMs: 10 })
  t.teardown(() => client.close())
  const path = `/groups/${sim.projectId}/clusters/Cluster0`
  const { body: current } = await client.send<RawCluster>({ method: 'GET', path, version: '2024-08-05', idempotent: true })
  const naive = (current.replicationSpecs ?? []).map(spec => ({
    ...spec, regionConfigs: (spec.regionConfigs ?? []).map(r => ({ ...r, electableSpecs: { ...r.electableSpecs, instanceSize: 'M20' } }))
  }))
  const err = await client.send({ method: 'PATCH', path, version: '2024-10-23', idempotent: true, body: { replicationSpecs: naive } }).catch((e: unknown) => e)
  t.type(err, AtlasRequestError, 'read-only fields sent back and read-only nodes left at the old size are refused')
  const sizes = await client.send({ method: 'PATCH', path, version: '2024-10-23', idempotent: true, body: { replicationSpecs: resizedSpecs(current, 'M20').map(s => ({ ...s, regionConfigs: (s.regionConfigs as Array<Record<string, unknown>>).map(r => ({ ...r, readOnlySpecs: { instanceSize: 'M10', nodeCount: 0 } })) })) } }).catch((e: unknown) => e)
  t.match((sizes as Error).message, /INSTANCE_SIZE_MUST_MATCH/, 'read-only nodes at another size than electable are refused')
  const zeroAnalytics = await client.send({ method: 'PATCH', path, version: '2024-10-23', idempotent: true, body: { replicationSpecs: resizedSpecs(current, 'M20').map(s => ({ ...s, regionConfigs: (s.regionConfigs as Array<Record<string, unknown>>).map(r => ({ ...r, analyticsSpecs: { instanceSize: 'M10', nodeCount: 0 } })) })) } }).catch((e: unknown) => e)
  t.match((zeroAnalytics as Error).message, /ANALYTICS_INSTANCE_SIZE_MUST_MATCH/, 'zero-node analytics specs at the old size are refused')
})

t.test('temporary users: Atlas deletes them at deleteAfterDate; a date over a week ahead is refused', async t => {
  const { sim, atlas } = await startSim(t)
  const soon = new Date(Date.now() + 300).toISOString()
  await atlas.createDatabaseUser({ username: 'temp', password: 'a-long-password', roles: [{ roleName: 'read', databaseName: 'd' }], scopes: ['Cluster0'], labels: [], deleteAfterDate: soon })
  t.ok(sim.databaseUsers().some(u => u.username === 'temp'))
  await new Promise(resolve => setTimeout(resolve, 400))
  await t.rejects(atlas.getDatabaseUser('temp'), { name: 'DatabaseUserNotFoundError' }, 'gone at its deleteAfterDate')
  const tooFar = new Date(Date.now() + 8 * 24 * 3600_000).toISOString()
  await t.rejects(atlas.createDatabaseUser({ username: 'far', password: 'a-long-password', roles: [{ roleName: 'read', databaseName: 'd' }], scopes: [], labels: [], deleteAfterDate: tooFar }), AtlasRequestError)
})

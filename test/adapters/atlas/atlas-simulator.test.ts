/** The simulator at the HTTP level: what a client that is not ours would see. */
import t, { type Test } from 'tap'
import { request } from 'undici'
import { digestResponse, parseDigestParams } from '../../../src/adapters/atlas/digest.js'
import { AtlasSimulator } from '../../../src/adapters/atlas/simulator/atlas-simulator.js'

async function withSim (t: Test, options: ConstructorParameters<typeof AtlasSimulator>[0] = {}): Promise<{ sim: AtlasSimulator, url: string }> {
  const sim = new AtlasSimulator({ seedClusters: ['Cluster0'], ...options })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  return { sim, url }
}

/** Answers the challenge once and returns the response to the authenticated request. */
async function authed (sim: AtlasSimulator, url: string, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string) {
  const first = await request(`${url}${path}`, { method: method as 'GET', headers })
  await first.body.text()
  const p = parseDigestParams(String(first.headers['www-authenticate']))!
  const response = digestResponse({ username: sim.publicKey, password: sim.privateKey, realm: p.realm!, method, uri: path, nonce: p.nonce!, nc: '00000001', cnonce: 'abc', qop: 'auth' })
  const authorization = `Digest username="${sim.publicKey}", realm="${p.realm}", nonce="${p.nonce}", uri="${path}", cnonce="abc", nc=00000001, qop=auth, response="${response}", algorithm=MD5`
  return await request(`${url}${path}`, { method: method as 'GET', headers: { ...headers, authorization }, ...(body === undefined ? {} : { body }) })
}

t.test('the digest challenge is exactly Atlas\'s, with its pretty-printed 401 body', async t => {
  const { url, sim } = await withSim(t)
  const r = await request(`${url}/api/atlas/v2/groups/${sim.projectId}`, { headers: { accept: 'application/vnd.atlas.2023-01-01+json' } })
  t.equal(r.statusCode, 401)
  t.match(String(r.headers['www-authenticate']), /^Digest realm="MMS Public API", domain="", nonce="[^"]+", algorithm=MD5, qop="auth", stale=false$/)
  t.equal(r.headers['content-type'], 'application/json')
  t.equal(await r.body.text(), '{\n  "error" : 401,\n  "reason" : "Unauthorized",\n  "detail" : "You are not authorized for this resource.",\n  "errorCode" : "UNEXPECTED_ERROR"\n}')
})

t.test('a valid answer is served; a replayed nc is refused', async t => {
  const { url, sim } = await withSim(t)
  const path = `/api/atlas/v2/groups/${sim.projectId}`
  const ok = await authed(sim, url, path, { accept: 'application/vnd.atlas.2023-01-01+json' })
  t.equal(ok.statusCode, 200)
  t.equal(ok.headers['content-type'], 'application/vnd.atlas.2023-01-01+json;charset=utf-8')
  t.ok(ok.headers['ratelimit-limit'])
  t.ok(ok.headers['ratelimit-remaining'])
  const body = await ok.body.json() as Record<string, unknown>
  t.equal(body.id, sim.projectId)
})

t.test('nonce counters: a little out of order is accepted, a replay or a counter far below the highest is refused', async t => {
  const { url, sim } = await withSim(t)
  const path = `/api/atlas/v2/groups/${sim.projectId}`
  const first = await request(`${url}${path}`)
  await first.body.text()
  const { nonce, realm } = parseDigestParams(String(first.headers['www-authenticate']))!
  const send = async (nc: string): Promise<number> => {
    const response = digestResponse({ username: sim.publicKey, password: sim.privateKey, realm: realm!, method: 'GET', uri: path, nonce: nonce!, nc, cnonce: 'abc', qop: 'auth' })
    const authorization = `Digest username="${sim.publicKey}", realm="${realm}", nonce="${nonce}", uri="${path}", cnonce="abc", nc=${nc}, qop=auth, response="${response}", algorithm=MD5`
    const r = await request(`${url}${path}`, { headers: { accept: 'application/vnd.atlas.2023-01-01+json', authorization } })
    await r.body.text()
    return r.statusCode
  }
  t.equal(await send('00000001'), 200)
  t.equal(await send('00000003'), 200)
  t.equal(await send('00000002'), 200, 'out of order')
  t.equal(await send('00000002'), 401, 'replayed')
  t.equal(await send('00000200'), 200)
  t.equal(await send('00000004'), 401, 'far below the highest: refused (memory per nonce stays bounded)')
  t.equal(await send('00000150'), 200, 'within the window')
})

t.test('versioned media types: unknown versions are refused, deprecated ones flagged, bodies must match', async t => {
  const { url, sim } = await withSim(t)
  const path = `/api/atlas/v2/groups/${sim.projectId}/clusters/Cluster0`
  const unknown = await authed(sim, url, path, { accept: 'application/vnd.atlas.2030-01-01+json' })
  t.equal(unknown.statusCode, 406)
  t.match(await unknown.body.json(), { error: 406, errorCode: 'INVALID_VERSION_DATE' })
  const none = await authed(sim, url, path, { accept: 'application/json' })
  t.equal(none.statusCode, 406)
  await none.body.text()
  const old = await authed(sim, url, path, { accept: 'application/vnd.atlas.2023-02-01+json' })
  t.equal(old.statusCode, 200)
  t.equal(old.headers.deprecation, 'Mon, 5 Aug 2024 00:00:00 GMT')
  t.match(String(old.headers.sunset), /2027/)
  await old.body.text()
  const wrongType = await authed(sim, url, `/api/atlas/v2/groups/${sim.projectId}/databaseUsers`,
    { accept: 'application/vnd.atlas.2023-01-01+json', 'content-type': 'application/json' }, 'POST', '{}')
  t.equal(wrongType.statusCode, 415)
  await wrongType.body.text()
})

t.test('errors use the envelope: compact JSON, real codes, parameters', async t => {
  const { url, sim } = await withSim(t)
  const r = await authed(sim, url, `/api/atlas/v2/groups/${sim.projectId}/clusters/nope`, { accept: 'application/vnd.atlas.2024-08-05+json' })
  t.equal(r.statusCode, 404)
  const text = await r.body.text()
  t.notOk(text.includes('\n'))
  t.same(JSON.parse(text), {
    detail: `No cluster named nope exists in group ${sim.projectId}.`, error: 404, errorCode: 'CLUSTER_NOT_FOUND', parameters: ['nope', sim.projectId], reason: 'Not Found'
  })
})

t.test('pagination: pageNum, itemsPerPage, includeCount, links', async t => {
  const { url, sim } = await withSim(t, { seedClusters: ['a', 'b', 'c'] })
  const page2 = await authed(sim, url, `/api/atlas/v2/groups/${sim.projectId}/clusters?pageNum=2&itemsPerPage=1`, { accept: 'application/vnd.atlas.2024-08-05+json' })
  const body = await page2.body.json() as { results: Array<{ name: string }>, totalCount: number, links: Array<{ rel: string }> }
  t.equal(body.results.length, 1)
  t.equal(body.results[0]?.name, 'b')
  t.equal(body.totalCount, 3)
  t.same(body.links.map(l => l.rel).sort(), ['next', 'previous', 'self'])
  const noCount = await authed(sim, url, `/api/atlas/v2/groups/${sim.projectId}/clusters?includeCount=false`, { accept: 'application/vnd.atlas.2024-08-05+json' })
  t.notOk('totalCount' in (await noCount.body.json() as object))
  const bad = await authed(sim, url, `/api/atlas/v2/groups/${sim.projectId}/clusters?itemsPerPage=501`, { accept: 'application/vnd.atlas.2024-08-05+json' })
  t.equal(bad.statusCode, 400)
  await bad.body.text()
})

t.test('rate limit: 429 with Retry-After and the token-bucket error code', async t => {
  const { url, sim } = await withSim(t)
  sim.setRateLimit(1, 0.5)
  const path = `/api/atlas/v2/groups/${sim.projectId}`
  const first = await authed(sim, url, path, { accept: 'application/vnd.atlas.2023-01-01+json' })
  await first.body.text()
  const second = await authed(sim, url, path, { accept: 'application/vnd.atlas.2023-01-01+json' })
  t.equal(second.statusCode, 429)
  t.ok(Number(second.headers['retry-after']) >= 1)
  t.match(await second.body.json(), { error: 429, errorCode: 'RATE_LIMITED_TOKEN_BUCKET', reason: 'Too Many Requests' })
})

t.test('service-account token endpoint', async t => {
  const { url, sim } = await withSim(t)
  const basic = Buffer.from(`${sim.clientId}:${sim.clientSecret}`).toString('base64')
  const r = await request(`${url}/api/oauth/token`, { method: 'POST', headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })
  const token = await r.body.json() as { access_token: string, token_type: string, expires_in: number }
  t.equal(token.token_type, 'Bearer')
  t.equal(token.expires_in, 3600)
  const api = await request(`${url}/api/atlas/v2/groups/${sim.projectId}`, { headers: { authorization: `Bearer ${token.access_token}`, accept: 'application/vnd.atlas.2023-01-01+json' } })
  t.equal(api.statusCode, 200)
  await api.body.text()
  const bad = await request(`${url}/api/oauth/token`, { method: 'POST', headers: { authorization: 'Basic eDp5' }, body: 'grant_type=client_credentials' })
  t.equal(bad.statusCode, 401)
  await bad.body.text()
})

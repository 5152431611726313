/**
 * Property-based fuzzing of the HTTP API (fast-check): any path, id, header, query string or body gives a
 * JSON answer, never a 5xx for bad input, never a crash, and a 4xx changes nothing in storage or Atlas.
 */
import fc from 'fast-check'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { bindBody, headers, makeApp, PLAN_ID, provisionBody, SERVICE_ID } from '../../helpers/broker.js'
import type { FakeAtlas } from '../../fakes/fake-atlas.js'
import type { FaultyStorage } from '../../fakes/faulty-storage.js'

const RUNS = 250

interface Env { app: FastifyInstance, storage: FaultyStorage, atlas: FakeAtlas }

function state (env: Env): string {
  return JSON.stringify({ store: env.storage.snapshot(), users: [...env.atlas.users.keys()].sort(), clusters: [...env.atlas.clusters.keys()].sort() })
}

async function check (env: Env, request: { method: string, url: string, headers?: Record<string, string>, payload?: string }): Promise<void> {
  const before = state(env)
  const r = await env.app.inject({ ...request, method: request.method as 'GET' })
  if (r.statusCode >= 500) throw new Error(`${request.method} ${request.url} → ${r.statusCode} ${r.body}`)
  if (!String(r.headers['content-type'] ?? '').startsWith('application/json') && request.url !== '/metrics') {
    throw new Error(`${request.method} ${request.url} → ${r.statusCode} with content-type ${String(r.headers['content-type'])}`)
  }
  if (request.method === 'HEAD') return // no body by definition
  const body: unknown = JSON.parse(r.body)
  if (typeof body !== 'object' || body === null) throw new Error(`non-object body ${r.body}`)
  if (r.statusCode >= 400 && r.statusCode !== 410 && typeof (body as { description?: unknown }).description !== 'string') {
    throw new Error(`${r.statusCode} without description: ${r.body}`)
  }
  if (r.statusCode >= 400 && state(env) !== before) throw new Error(`${request.method} ${request.url} → ${r.statusCode} changed state`)
}

async function setup (t: Test): Promise<Env> {
  const env = await makeApp(t)
  // Some existing resources, so fuzzed requests also hit real records.
  await env.app.inject({ method: 'PUT', url: '/v2/service_instances/known', headers: headers(), payload: JSON.stringify(provisionBody()) })
  await env.app.inject({ method: 'PUT', url: '/v2/service_instances/known/service_bindings/kb', headers: headers(), payload: JSON.stringify(bindBody()) })
  return env
}

const segment = fc.oneof(fc.constantFrom('known', 'kb', 'x', ''), fc.string(), fc.string({ unit: 'binary' }), fc.uuid())
const encoded = segment.map(s => encodeURIComponent(s))
const method = fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE', 'POST', 'HEAD', 'OPTIONS')
const query = fc.dictionary(fc.constantFrom('service_id', 'plan_id', 'accepts_incomplete', 'operation', 'x'), fc.oneof(fc.string(), fc.constantFrom(SERVICE_ID, PLAN_ID, 'true', 'false', ''))).map(q => new URLSearchParams(q).toString())

t.test('any path and id: JSON answers, no 5xx, no change on 4xx', async t => {
  const env = await setup(t)
  await fc.assert(fc.asyncProperty(method, fc.array(encoded, { minLength: 0, maxLength: 6 }), query, async (m, parts, q) => {
    const shapes = [
      `/v2/service_instances/${parts[0] ?? ''}`,
      `/v2/service_instances/${parts[0] ?? ''}/last_operation`,
      `/v2/service_instances/${parts[0] ?? ''}/service_bindings/${parts[1] ?? ''}`,
      `/v2/service_instances/${parts[0] ?? ''}/service_bindings/${parts[1] ?? ''}/last_operation`,
      `/${parts.join('/')}`
    ]
    for (const path of shapes) await check(env, { method: m, url: `${path}?${q}`, headers: headers(), payload: m === 'GET' || m === 'HEAD' ? undefined : '{}' })
  }), { numRuns: RUNS })
  t.pass('held for every generated request')
})

t.test('any headers: auth and version checks never crash', async t => {
  const env = await setup(t)
  const header = fc.oneof(fc.string(), fc.constantFrom('2.17', '2.13', '3.0', '', ' 2.17 ', 'Basic ', 'Basic !!!', `Basic ${Buffer.from('broker-user:broker-password-123').toString('base64')}`))
  await fc.assert(fc.asyncProperty(header, header, header, header, async (version, authorization, identity, originating) => {
    const h: Record<string, string> = {}
    for (const [k, v] of Object.entries({ 'x-broker-api-version': version, authorization, 'x-broker-api-request-identity': identity, 'x-broker-api-originating-identity': originating })) {
      if (/^[\t\x20-\x7e]*$/.test(v)) h[k] = v // only values HTTP can carry
    }
    await check(env, { method: 'PUT', url: '/v2/service_instances/fz', headers: { ...h, 'content-type': 'application/json' }, payload: JSON.stringify(provisionBody({ organization_guid: '' })) })
    await check(env, { method: 'GET', url: '/v2/catalog', headers: h })
  }), { numRuns: RUNS })
  t.pass('held for every generated header set')
})

t.test('any body: provision, update, bind and delete never 5xx; a 4xx changes nothing', async t => {
  const env = await setup(t)
  const id = fc.constantFrom(SERVICE_ID, PLAN_ID, '', 'x')
  const structured = fc.record({
    service_id: fc.oneof(id, fc.jsonValue()),
    plan_id: fc.oneof(id, fc.jsonValue()),
    organization_guid: fc.oneof(fc.string(), fc.jsonValue()),
    space_guid: fc.oneof(fc.string(), fc.jsonValue()),
    parameters: fc.oneof(fc.jsonValue(), fc.record({ cluster: fc.oneof(fc.string(), fc.constant('Cluster0')), database: fc.string() }, { requiredKeys: [] })),
    context: fc.jsonValue(),
    maintenance_info: fc.oneof(fc.jsonValue(), fc.record({ version: fc.string() })),
    bind_resource: fc.jsonValue()
  }, { requiredKeys: [] })
  const body = fc.oneof(structured.map(b => JSON.stringify(b)), fc.jsonValue().map(v => JSON.stringify(v)), fc.string(), fc.constant(''))
  const contentType = fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8')
  await fc.assert(fc.asyncProperty(body, contentType, fc.constantFrom('known', 'fresh'), async (payload, type, target) => {
    const h = { ...headers(), 'content-type': type }
    await check(env, { method: 'PUT', url: `/v2/service_instances/${target}?accepts_incomplete=true`, headers: h, payload })
    await check(env, { method: 'PATCH', url: `/v2/service_instances/${target}`, headers: h, payload })
    await check(env, { method: 'PUT', url: `/v2/service_instances/${target}/service_bindings/fb`, headers: h, payload })
    await check(env, { method: 'DELETE', url: `/v2/service_instances/${target}/service_bindings/none?service_id=${SERVICE_ID}&plan_id=${PLAN_ID}`, headers: h, payload })
  }), { numRuns: RUNS })
  t.pass('held for every generated body')
})

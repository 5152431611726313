/**
 * The build's precompiled route schemas (precompiled-schemas.ts, scripts/precompile-schemas.ts): an app
 * served with them answers every request as one compiled by Fastify's own compilers (side by side, on a
 * request corpus and on fuzzed requests); a schema missing from the module is compiled at start-up; the
 * module loads neither Ajv's compiler nor fast-json-stringify's.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import fc from 'fast-check'
import t from 'tap'
import { compiledSchemaKey, type PrecompiledSchemas, routeSchemaCompilers } from '../../../src/adapters/http/precompiled-schemas.js'
import { ProvisionBody } from '../../../src/adapters/http/schemas.js'
import { bindBody, DELETE_QUERY, headers, makeApp, type TestApp, provisionBody } from '../../helpers/broker.js'
import { precompiledSchemasSource } from '../../../scripts/precompile-schemas.js'

const root = new URL('../../..', import.meta.url).pathname
// Inside the project, so that the module's requires resolve as from the compiled broker.
mkdirSync(path.join(root, 'node_modules/.cache'), { recursive: true })
const dir = mkdtempSync(path.join(root, 'node_modules/.cache/precompiled-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
const file = path.join(dir, 'precompiled-schemas.generated.cjs')
writeFileSync(file, await precompiledSchemasSource())
const precompiled = createRequire(import.meta.url)(file) as PrecompiledSchemas

interface Request { method: 'GET' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: string }

/** Both apps' answers with what is random per app (passwords, connection strings, operation ids) masked. */
function comparable (r: { statusCode: number, headers: Record<string, unknown>, body: string }): unknown {
  const mask = (value: unknown, key = ''): unknown => {
    if (Array.isArray(value)) return value.map(v => mask(v))
    if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v, k)]))
    return /password|uri|operation/i.test(key) ? typeof value : value
  }
  let body: unknown
  try { body = JSON.parse(r.body) } catch { body = r.body }
  return { status: r.statusCode, contentType: r.headers['content-type'], body: mask(body) }
}

async function pair (t: Parameters<typeof makeApp>[0], schemas: PrecompiledSchemas): Promise<{ compiled: TestApp, restored: TestApp, counts: ReturnType<typeof routeSchemaCompilers>['counts'] }> {
  const routeSchemas = routeSchemaCompilers(schemas)
  const compiled = await makeApp(t, {}, { catalogFastPath: false })
  const restored = await makeApp(t, {}, { catalogFastPath: false, routeSchemas })
  await compiled.app.ready()
  await restored.app.ready()
  return { compiled, restored, counts: routeSchemas.counts }
}

const instance = '/v2/service_instances/i-1'
const corpus: Request[] = [
  { method: 'GET', url: '/v2/catalog' },
  { method: 'PUT', url: instance, payload: JSON.stringify(provisionBody({ service_id: 7 })) },
  { method: 'PUT', url: instance, payload: JSON.stringify(provisionBody({ parameters: 'no' })) },
  { method: 'PUT', url: instance, payload: JSON.stringify(provisionBody({ context: [] })) },
  { method: 'PUT', url: instance, payload: JSON.stringify({ plan_id: 'p' }) },
  { method: 'PUT', url: instance, payload: '[]' },
  { method: 'PUT', url: instance, payload: 'null' },
  { method: 'PUT', url: `${instance}?accepts_incomplete=maybe`, payload: JSON.stringify(provisionBody()) },
  { method: 'PUT', url: instance, payload: JSON.stringify(provisionBody({ extra: 1, parameters: { a: { b: [1] } } })) },
  { method: 'PUT', url: instance, payload: JSON.stringify(provisionBody()) },
  { method: 'PUT', url: instance, payload: JSON.stringify(provisionBody()) },
  { method: 'GET', url: instance },
  { method: 'GET', url: `${instance}/last_operation?operation=${'x'.repeat(5000)}` },
  { method: 'PATCH', url: instance, payload: JSON.stringify({ service_id: provisionBody().service_id, previous_values: 'x' }) },
  { method: 'PATCH', url: instance, payload: JSON.stringify({ service_id: provisionBody().service_id, parameters: {} }) },
  { method: 'PUT', url: `${instance}/service_bindings/b-1`, payload: JSON.stringify(bindBody({ bind_resource: 'x' })) },
  { method: 'PUT', url: `${instance}/service_bindings/b-1`, payload: JSON.stringify(bindBody()) },
  { method: 'PUT', url: `${instance}/service_bindings/b-1`, payload: JSON.stringify(bindBody()) },
  { method: 'GET', url: `${instance}/service_bindings/b-1` },
  { method: 'GET', url: `${instance}/service_bindings/b-1/last_operation?plan_id=1&service_id=` },
  { method: 'DELETE', url: `${instance}/service_bindings/b-1?accepts_incomplete=1&${DELETE_QUERY}` },
  { method: 'DELETE', url: `${instance}/service_bindings/b-1?${DELETE_QUERY}` },
  { method: 'DELETE', url: instance },
  { method: 'DELETE', url: `${instance}?${DELETE_QUERY}` },
  { method: 'GET', url: instance }
]

t.test('every route schema of the app is in the module, and the answers are the same as compiled at start-up', async t => {
  const { compiled, restored, counts } = await pair(t, precompiled)
  t.ok(counts.precompiled > 0, `${counts.precompiled} route schemas came precompiled`)
  t.equal(counts.compiledAtStart, 0, 'none compiled at start-up')
  for (const request of corpus) {
    const [a, b] = [await compiled.app.inject({ ...request, headers: headers() }), await restored.app.inject({ ...request, headers: headers() })]
    t.strictSame(comparable(b), comparable(a), `${request.method} ${request.url.slice(0, 80)}: ${a.statusCode}`)
  }
  const sizes = (app: TestApp): number[] => [app.storage.snapshot().instances.length, app.storage.snapshot().bindings.length]
  t.strictSame(sizes(restored), sizes(compiled), 'the same records stored')
})

t.test('fuzzed bodies and queries: the same answers from both', async t => {
  const { compiled, restored } = await pair(t, precompiled)
  const json = fc.jsonValue({ maxDepth: 3 })
  const body = fc.oneof(
    json,
    fc.record({ service_id: fc.oneof(json, fc.constant(provisionBody().service_id)), plan_id: fc.oneof(json, fc.constant(provisionBody().plan_id)), parameters: json, context: json, organization_guid: json }, { requiredKeys: [] }),
    fc.record({ bind_resource: json, app_guid: json, parameters: json }, { requiredKeys: [] }).map(extra => bindBody(extra))
  )
  const query = fc.dictionary(fc.constantFrom('accepts_incomplete', 'service_id', 'plan_id', 'operation'), fc.oneof(fc.string(), fc.constantFrom('true', 'false', '')))
  const route = fc.constantFrom<[Request['method'], string]>(['PUT', instance], ['PATCH', instance], ['PUT', `${instance}/service_bindings/b-1`], ['GET', `${instance}/last_operation`], ['DELETE', instance], ['GET', instance])
  await fc.assert(fc.asyncProperty(route, query, body, async ([method, url], q, payload) => {
    const request = { method, url: `${url}?${new URLSearchParams(q).toString()}`, headers: headers(), ...(method === 'GET' ? {} : { payload: JSON.stringify(payload) }) }
    const [a, b] = [await compiled.app.inject(request), await restored.app.inject(request)]
    t.strictSame(comparable(b), comparable(a))
  }), { numRuns: 200 })
})

t.test('a schema missing from the module is compiled at start-up, with the same answers', async t => {
  const partial = Object.fromEntries(Object.entries(precompiled).filter(([key]) => key !== compiledSchemaKey('validator', JSON.parse(JSON.stringify(ProvisionBody)))))
  t.equal(Object.keys(partial).length, Object.keys(precompiled).length - 1, 'the provision body\'s validator is left out')
  const { compiled, restored, counts } = await pair(t, partial)
  t.equal(counts.compiledAtStart, 1, 'that one compiled at start-up')
  for (const request of corpus.slice(1, 9)) {
    const [a, b] = [await compiled.app.inject({ ...request, headers: headers() }), await restored.app.inject({ ...request, headers: headers() })]
    t.strictSame(comparable(b), comparable(a), `${request.method} ${request.url}: ${a.statusCode}`)
  }
})

t.test('keys: by kind and schema content, not by object', async t => {
  const schema = { type: 'object', properties: { a: { type: 'string' } } }
  t.equal(compiledSchemaKey('validator', schema), compiledSchemaKey('validator', JSON.parse(JSON.stringify(schema))))
  t.not(compiledSchemaKey('validator', schema), compiledSchemaKey('serializer', schema))
  t.not(compiledSchemaKey('validator', schema), compiledSchemaKey('validator', { ...schema, required: ['a'] }))
})

t.test('evaluating every compiled function loads neither Ajv\'s compiler nor fast-json-stringify\'s', async t => {
  const script = `
    const required = require(${JSON.stringify(file)})
    for (const restore of Object.values(required)) if (typeof restore() !== 'function') throw new Error('not a function')
    const loaded = Object.keys(require.cache).map(p => p.split('/node_modules/').pop())
    process.stdout.write(JSON.stringify(loaded))
  `
  const loaded = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: root }).toString()) as string[]
  t.ok(loaded.some(p => p.startsWith('fast-json-stringify/lib/serializer')), 'the serializers\' runtime is loaded')
  for (const compiler of ['ajv/dist/core.js', 'ajv/dist/ajv.js', 'fast-json-stringify/index.js', 'ajv-formats/dist/index.js']) t.notOk(loaded.includes(compiler), `${compiler} is not loaded`)
})

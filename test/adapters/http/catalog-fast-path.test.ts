/**
 * The catalog's fast lane answers exactly what Fastify's catalog route answers, takes only the ordinary
 * request (everything else reaches Fastify, whose answers are unchanged), records the catalog's metrics,
 * steps aside while the server closes, and is not installed where the catalog's access-log line is written.
 */
import t from 'tap'
import { BrokerMetrics } from '../../../src/adapters/metrics/prometheus-metrics.js'
import { catalogFastPathApplies } from '../../../src/adapters/http/catalog-fast-path.js'
import { AUTH, BROKER_USER, captureLogger, makeApp } from '../../helpers/broker.js'

interface Answer { status: number, headers: Record<string, string>, body: string }

async function served (t: { teardown: (fn: () => unknown) => void }, fastPath: boolean): Promise<{ url: string, answered: () => number, metrics: BrokerMetrics, close: () => Promise<void> }> {
  const metrics = new BrokerMetrics()
  let answered = 0
  const observer = metrics.operationObserver.bind(metrics)
  metrics.operationObserver = (operation: string) => {
    const observe = observer(operation)
    return (status, seconds) => { answered++; observe(status, seconds) }
  }
  const { app } = await makeApp(t, {}, { logger: captureLogger('info').logger, metrics: { metrics, public: false }, catalogFastPath: fastPath })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { url, answered: () => answered, metrics, close: async () => { await app.close() } }
}

async function ask (url: string, path: string, init: { method?: string, headers?: Record<string, string> } = {}): Promise<Answer> {
  const response = await fetch(`${url}${path}`, { method: init.method ?? 'GET', headers: init.headers ?? {} })
  const headers: Record<string, string> = {}
  response.headers.forEach((value, name) => { if (name !== 'date') headers[name] = value })
  return { status: response.status, headers, body: await response.text() }
}

const ordinary = { authorization: AUTH, 'x-broker-api-version': '2.17' }
const cases: Array<{ name: string, path?: string, method?: string, headers: Record<string, string>, fast: boolean }> = [
  { name: 'the ordinary request', headers: ordinary, fast: true },
  { name: 'with a request identity (echoed)', headers: { ...ordinary, 'x-broker-api-request-identity': 'req-42' }, fast: true },
  { name: 'another 2.x version', headers: { ...ordinary, 'x-broker-api-version': '2.14' }, fast: true },
  { name: 'wrong password', headers: { ...ordinary, authorization: `Basic ${Buffer.from(`${BROKER_USER}:wrong-password-123`).toString('base64')}` }, fast: false },
  { name: 'a longer wrong header', headers: { ...ordinary, authorization: `${AUTH}AAAA` }, fast: false },
  { name: 'no credentials', headers: { 'x-broker-api-version': '2.17' }, fast: false },
  { name: 'no version', headers: { authorization: AUTH }, fast: false },
  { name: 'version 3', headers: { ...ordinary, 'x-broker-api-version': '3.0' }, fast: false },
  { name: 'the scheme in lower case', headers: { ...ordinary, authorization: AUTH.replace('Basic', 'basic') }, fast: false },
  { name: 'an originating identity', headers: { ...ordinary, 'x-broker-api-originating-identity': `kubernetes ${Buffer.from(JSON.stringify({ username: 'alice' })).toString('base64')}` }, fast: false },
  { name: 'a query string', path: '/v2/catalog?x=1', headers: ordinary, fast: false },
  { name: 'a trailing slash', path: '/v2/catalog/', headers: ordinary, fast: false },
  { name: 'HEAD', method: 'HEAD', headers: ordinary, fast: false },
  { name: 'POST', method: 'POST', headers: ordinary, fast: false }
]

t.test('every request gets what Fastify answers; only the ordinary ones take the lane', async t => {
  const fast = await served(t, true)
  const plain = await served(t, false)
  for (const c of cases) {
    const before = fast.answered()
    const a = await ask(fast.url, c.path ?? '/v2/catalog', c)
    const b = await ask(plain.url, c.path ?? '/v2/catalog', c)
    t.strictSame(a, b, `${c.name}: the same status, headers and body (${a.status})`)
    t.equal(fast.answered() - before, c.fast ? 1 : 0, `${c.name}: ${c.fast ? 'answered by the fast lane' : 'answered by Fastify'}`)
  }
  t.equal(plain.answered(), 0, 'without the lane nothing bypasses Fastify')
  t.equal((await ask(fast.url, '/v2/catalog', { headers: ordinary })).headers['content-type'], 'application/json; charset=utf-8')
})

t.test('fast answers are counted in the catalog metrics like the route\'s', async t => {
  const fast = await served(t, true)
  for (let i = 0; i < 3; i++) await ask(fast.url, '/v2/catalog', { headers: ordinary })
  await ask(fast.url, '/v2/catalog', { headers: { authorization: AUTH } })
  const { body } = await fast.metrics.render()
  t.match(body, /atlas_broker_osb_requests_total\{operation="catalog",status="200"\} 3\b/)
  t.match(body, /atlas_broker_osb_requests_total\{operation="catalog",status="412"\} 1\b/)
  t.match(body, /atlas_broker_osb_request_duration_seconds_count\{operation="catalog"\} 4\b/)
})

t.test('while the server closes, the lane steps aside (Fastify answers)', async t => {
  const fast = await served(t, true)
  const closing = fast.close()
  const after = fast.answered()
  await ask(fast.url, '/v2/catalog', { headers: ordinary }).catch(() => undefined)
  await closing
  t.equal(fast.answered(), after, 'no request was answered by the lane once closing began')
})

t.test('installed only where the catalog\'s access-log line is not written', async t => {
  const debug = captureLogger('debug')
  const atDebug = await makeApp(t, {}, { logger: debug.logger })
  t.notOk(catalogFastPathApplies(atDebug.app), 'debug: the line is written, so Fastify serves the catalog')
  const url = await atDebug.app.listen({ port: 0, host: '127.0.0.1' })
  t.equal((await ask(url, '/v2/catalog', { headers: ordinary })).status, 200)
  t.ok(debug.lines.some(line => line.includes('"route":"/v2/catalog"')), 'the access-log line of the catalog request is there')
  const atInfo = await makeApp(t, {}, { logger: captureLogger('info').logger })
  t.ok(catalogFastPathApplies(atInfo.app), 'info: the lane is installed')
})

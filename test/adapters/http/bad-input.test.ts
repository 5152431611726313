/**
 * Bad input stays 4xx with an OSB body: JSON nested too deep is refused before any work, and what Node's HTTP
 * parser refuses (unknown methods, Content-Length with Transfer-Encoding, oversized headers) answers
 * `{description}` too. 5xx descriptions carry a request id, never Atlas paths or project ids.
 */
import { connect } from 'node:net'
import t from 'tap'
import { nestingExceeds } from '../../../src/adapters/http/osb-hooks.js'
import { AtlasUnavailableError } from '../../../src/ports/atlas-port.js'
import { headers, makeApp, provisionBody } from '../../helpers/broker.js'

const I = '/v2/service_instances'

async function raw (port: number, request: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request))
    let text = ''
    socket.on('data', chunk => { text += chunk.toString() })
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
    socket.setTimeout(5000, () => { socket.destroy(); resolve(text) })
  })
}

t.test('nesting is measured outside strings, in one pass', async t => {
  t.equal(nestingExceeds('{"a":[[[1]]]}', 4), false)
  t.equal(nestingExceeds('{"a":[[[[1]]]]}', 4), true)
  t.equal(nestingExceeds(`{"a":"${'['.repeat(100)}"}`, 4), false, 'brackets in strings do not count')
  t.equal(nestingExceeds('{"a":"\\"[[[[[[["}', 2), false, 'escaped quotes stay inside the string')
})

t.test('JSON nested deeper than 64 levels is a 400 before any work; 64 levels are fine', async t => {
  const { app, storage } = await makeApp(t)
  const deep = (n: number): unknown => n === 0 ? 1 : { x: deep(n - 1) }
  const tooDeep = JSON.stringify(provisionBody({ parameters: {} })).replace('"parameters":{}', `"parameters":${'{"x":'.repeat(5000)}1${'}'.repeat(5000)}`)
  const r = await app.inject({ method: 'PUT', url: `${I}/deep`, headers: headers(), payload: tooDeep })
  t.equal(r.statusCode, 400)
  t.match(r.json(), { description: /nested deeper than 64 levels/ })
  t.equal(await storage.getInstance('deep'), undefined, 'nothing recorded')
  const arrays = `{"service_id":"s","plan_id":"p","parameters":{"a":${'['.repeat(70)}${']'.repeat(70)}}}`
  t.equal((await app.inject({ method: 'PUT', url: `${I}/deep`, headers: headers(), payload: arrays })).statusCode, 400)
  const fine = JSON.stringify(provisionBody({ parameters: { database: 'db1', x: deep(60) } }))
  t.not((await app.inject({ method: 'PUT', url: `${I}/fine`, headers: headers(), payload: fine })).statusCode, 500)
})

t.test('what Node\'s parser refuses answers an OSB body', async t => {
  const { app } = await makeApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const cases: Array<[string, string, number]> = [
    ['unknown method', 'FOO% /v2/catalog HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['Content-Length with Transfer-Encoding', `PUT ${I}/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
    ['headers too large', `GET /v2/catalog HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431]
  ]
  for (const [what, request, status] of cases) {
    const answer = await raw(port, request)
    t.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `), `${what}: ${status}`)
    t.match(answer, /content-type: application\/json/i, `${what}: JSON`)
    const body = answer.slice(answer.indexOf('\r\n\r\n') + 4)
    t.match(JSON.parse(body), { description: /./ }, `${what}: {description}`)
  }
})

t.test('a 5xx names a request id and no Atlas path or project id; a 503 says when to retry', async t => {
  const { app, atlas } = await makeApp(t)
  atlas.failNext('getCluster', new AtlasUnavailableError('GET /groups/0123456789abcdef01234567/clusters/Cluster0: timed out'))
  const r = await app.inject({ method: 'PUT', url: `${I}/x`, headers: headers({ 'x-broker-api-request-identity': 'req-42' }), payload: JSON.stringify(provisionBody()) })
  t.equal(r.statusCode, 503)
  t.equal(r.headers['retry-after'], '10')
  t.equal(r.json().description, 'Atlas cannot be reached right now; retry later (request id req-42)')
})

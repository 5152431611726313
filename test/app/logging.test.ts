/**
 * No secret reaches a log line: Authorization headers, broker and binding passwords, the credentials secret
 * and Atlas keys, across a whole lifecycle at trace level, through the error paths too.
 */
import t from 'tap'
import { AUTH, BROKER_PASS, bindBody, captureLogger, DELETE_QUERY, makeApp, provisionBody, SECRET } from '../helpers/broker.js'
import { osb } from '../helpers/osb-client.js'

t.test('pino redaction paths hide secrets wherever the broker logs them', async t => {
  const { logger, lines } = captureLogger()
  logger.info({ req: { headers: { authorization: AUTH } }, password: 'p1-secret', credentials: { password: 'p2-secret', uri: 'mongodb://u:p3-secret@h' } }, 'x')
  logger.info({ config: { credentialsSecret: SECRET, atlas: { privateKey: 'p4-secret', clientSecret: 'p5-secret' } } }, 'y')
  logger.info({ binding: { sealedPassword: 'p6-secret' }, token: { access_token: 'p7-secret' } }, 'z')
  const all = lines.join('\n')
  for (const secret of [AUTH, 'p1-secret', 'p2-secret', 'p3-secret', SECRET, 'p4-secret', 'p5-secret', 'p6-secret', 'p7-secret']) {
    t.notOk(all.includes(secret), `${secret.slice(0, 12)}… is redacted`)
  }
  t.match(all, /\[redacted\]/)
})

t.test('a full lifecycle at trace level, failures included, logs no secret', async t => {
  const { app, logLines, atlas } = await makeApp(t)
  const I = '/v2/service_instances'
  await osb(app, t, 'PUT', `${I}/log1`, { body: provisionBody(), headers: { 'x-broker-api-request-identity': 'req-1' } })
  const bound = await osb(app, t, 'PUT', `${I}/log1/service_bindings/b1`, { body: bindBody() })
  const password = String((bound.body.credentials as Record<string, unknown>).password)
  await osb(app, t, 'GET', `${I}/log1/service_bindings/b1`)
  await osb(app, t, 'PUT', `${I}/log1/service_bindings/b1`, { body: bindBody() })
  const { AtlasUnavailableError } = await import('../../src/ports/atlas-port.js')
  atlas.failNext('deleteDatabaseUser', new AtlasUnavailableError('down'))
  await osb(app, t, 'DELETE', `${I}/log1/service_bindings/b1?${DELETE_QUERY}`)
  await osb(app, t, 'GET', '/v2/catalog', { headers: { authorization: 'Basic ' + Buffer.from('broker-user:wrong-password-x').toString('base64') } })
  await osb(app, t, 'DELETE', `${I}/log1/service_bindings/b1?${DELETE_QUERY}`)
  await osb(app, t, 'DELETE', `${I}/log1?${DELETE_QUERY}`)
  const all = logLines.join('\n')
  const access = logLines.filter(line => line.includes('"msg":"request"'))
  t.equal(access.length, 8, 'one access-log line per request (eight requests)')
  t.match(access[0], /"method":"PUT".*"route":"\/v2\/service_instances\/:instance_id".*"status":201.*"ms":[\d.]+.*"instanceId":"log1"/)
  t.match(access[1], /"bindingId":"b1"/)
  t.match(all, /req-1/, 'the request identity is the request id in the logs')
  for (const secret of [password, AUTH, BROKER_PASS, SECRET, 'wrong-password-x', encodeURIComponent(password)]) {
    t.notOk(all.includes(secret), `no ${secret.slice(0, 6)}… in the logs`)
  }
})

t.test('one access-log line per request, with the originating identity\'s user; catalog and probes at debug', async t => {
  const { app, logLines } = await makeApp(t)
  const who = `cloudfoundry ${Buffer.from(JSON.stringify({ user_id: 'alice-guid' })).toString('base64')}`
  await osb(app, t, 'PUT', '/v2/service_instances/al1', { body: provisionBody(), headers: { 'x-broker-api-originating-identity': who, 'x-broker-api-request-identity': 'req-al' } })
  const line = logLines.filter(l => l.includes('"msg":"request"')).at(-1) ?? ''
  t.match(line, /"reqId":"req-al"/)
  t.match(line, /"user":"alice-guid"/)
  t.match(line, /"level":30/, 'OSB calls at info')
  t.notMatch(logLines.join('\n'), /incoming request|request completed/, 'Fastify\'s own two lines are off')
  await osb(app, t, 'GET', '/v2/catalog')
  t.match(logLines.filter(l => l.includes('"route":"/v2/catalog"')).at(-1), /"level":20/, 'the catalog at debug')
})

/**
 * The bind / retried bind / deprovision race over HTTP, ordered by holding the fake Atlas's user creation:
 * the deprovision answers 422 ConcurrencyError while the bind is creating its user, and every credentials
 * answer names a user that exists.
 */
import t from 'tap'
import { bindBody, DELETE_QUERY, headers, makeApp, provisionBody } from '../../helpers/broker.js'

const I = '/v2/service_instances'

t.test('bind A, retry B 200 ms later, deprovision 200 ms after that', async t => {
  const { app, atlas } = await makeApp(t)
  t.equal((await app.inject({ method: 'PUT', url: `${I}/i`, headers: headers(), payload: JSON.stringify(provisionBody()) })).statusCode, 201)
  const held = atlas.hold('createDatabaseUser')
  const put = async (): Promise<{ statusCode: number, json: () => Record<string, any> }> => // eslint-disable-line @typescript-eslint/no-explicit-any
    await app.inject({ method: 'PUT', url: `${I}/i/service_bindings/b`, headers: headers(), payload: JSON.stringify(bindBody()) })
  const a = put()
  await held.reached
  await new Promise(resolve => setTimeout(resolve, 200))
  const b = put()
  await new Promise(resolve => setTimeout(resolve, 200))
  const d = await app.inject({ method: 'DELETE', url: `${I}/i?${DELETE_QUERY}`, headers: headers() })
  t.equal(d.statusCode, 422)
  t.equal(d.json().error, 'ConcurrencyError')
  held.release()
  const [ra, rb] = await Promise.all([a, b])
  t.equal(ra.statusCode, 201)
  t.equal(rb.statusCode, 200)
  const password = ra.json().credentials.password as string
  t.equal(rb.json().credentials.password, password)
  t.equal(atlas.users.get('b')?.password, password, 'the credentials work: the user exists with that password')
  t.equal((await app.inject({ method: 'DELETE', url: `${I}/i?${DELETE_QUERY}`, headers: headers() })).statusCode, 200, 'the platform\'s retried delete succeeds')
  t.equal(atlas.users.size, 0)
})

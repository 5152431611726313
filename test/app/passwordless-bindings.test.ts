/**
 * Every kind of credential end to end: OSB over HTTP (each answer checked against the OSB spec), the broker
 * as composed for production, the Atlas simulator behind it (users on `$external`, certificates it signs,
 * OIDC providers it knows). Ends with no user left in Atlas; a certificate Atlas fails to issue leaves none.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto'
import t, { type Test } from 'tap'
import { defaultCatalog, SEED_PLAN_ID, SEED_SERVICE_ID } from '../../src/app/default-catalog.js'
import { type SimBroker, startSimBroker } from '../helpers/sim-broker.js'

const PROVIDER = 'd0123456789abcdef012345d'
const ROLE = 'arn:aws:iam::123456789012:role/orders-app'
const I = '/v2/service_instances'
const Q = `service_id=${SEED_SERVICE_ID}&plan_id=${SEED_PLAN_ID}`

async function setup (t: Test): Promise<SimBroker> {
  const catalog = structuredClone(defaultCatalog)
  catalog.services[0]!.plans[0]!.atlas = { kind: 'shared-cluster', bindingAuth: ['scram', 'aws-iam', 'x509', 'oidc'], oidcIdentityProviderId: PROVIDER, certificateMonths: 6 }
  const env = await startSimBroker(t, catalog, { oidcIdentityProviders: [PROVIDER] })
  const provisioned = await env.call('PUT', `${I}/i1`, { service_id: SEED_SERVICE_ID, plan_id: SEED_PLAN_ID, organization_guid: 'o', space_guid: 's', parameters: { database: 'orders' } })
  t.equal(provisioned.status, 201)
  return env
}

const bindBody = (parameters: Record<string, unknown>): Record<string, unknown> => ({ service_id: SEED_SERVICE_ID, plan_id: SEED_PLAN_ID, parameters })

t.test('each kind of credential: bind, fetch and unbind over HTTP against the simulator', async t => {
  const { sim, call } = await setup(t)
  const kinds: Array<{ id: string, parameters: Record<string, unknown>, username: RegExp, mechanism?: string, atlasField?: [string, string] }> = [
    { id: 'pw', parameters: {}, username: /^pw$/ },
    { id: 'iam', parameters: { auth: 'aws-iam', awsIamRoleArn: ROLE }, username: /^arn:aws:iam::123456789012:role\/orders-app$/, mechanism: 'MONGODB-AWS', atlasField: ['awsIAMType', 'ROLE'] },
    { id: 'cert', parameters: { auth: 'x509' }, username: /^cert$/, mechanism: 'MONGODB-X509', atlasField: ['x509Type', 'MANAGED'] },
    { id: 'wl', parameters: { auth: 'oidc', oidcIdentity: 'system:serviceaccount:shop:orders', oidcEnvironment: 'k8s' }, username: new RegExp(`^${PROVIDER}/system:serviceaccount:shop:orders$`), mechanism: 'MONGODB-OIDC', atlasField: ['oidcAuthType', 'USER'] }
  ]
  for (const kind of kinds) {
    const r = await call('PUT', `${I}/i1/service_bindings/${kind.id}`, bindBody(kind.parameters))
    t.equal(r.status, 201, `${kind.id}: bound`)
    const c = r.body.credentials as Record<string, string>
    t.match(c.username, kind.username)
    const user = sim.databaseUsers().find(u => u.username === c.username)
    t.ok(user, `${kind.id}: the Atlas user exists`)
    if (kind.mechanism === undefined) {
      t.equal(user?.databaseName, 'admin')
      t.equal(user?.password, c.password, 'the password works')
    } else {
      t.equal(user?.databaseName, '$external', `${kind.id}: the user lives on $external`)
      t.equal(c.password, undefined, `${kind.id}: no password`)
      t.equal(c.authMechanism, kind.mechanism)
      t.match(c.uri, new RegExp(`authSource=%24external&authMechanism=${kind.mechanism}`))
      t.notMatch(c.uri, /@/, 'no credentials in the URI')
      t.equal((user?.auth as Record<string, string> | undefined)?.[kind.atlasField![0]], kind.atlasField![1])
    }
    const fetched = await call('GET', `${I}/i1/service_bindings/${kind.id}`)
    t.equal(fetched.status, 200)
    t.same(fetched.body.credentials, r.body.credentials, `${kind.id}: fetch answers the same credentials`)
  }
  const cert = (await call('GET', `${I}/i1/service_bindings/cert`)).body
  const c = cert.credentials as Record<string, string>
  const x509 = new X509Certificate(c.certificate!)
  t.ok(x509.verify(sim.certificateAuthorityKey), 'signed by the project\'s CA')
  t.ok(x509.checkPrivateKey(createPrivateKey(c.privateKey!)), 'with its own key')
  t.equal(x509.subject, 'CN=cert')
  t.equal((cert.metadata as Record<string, string>).expires_at, new Date(x509.validTo).toISOString(), 'metadata.expires_at is the certificate\'s expiry')
  const months = (Date.parse(x509.validTo) - Date.now()) / (30.4 * 86400_000)
  t.ok(months > 5.8 && months < 6.2, 'the plan\'s six months')

  for (const kind of kinds) t.equal((await call('DELETE', `${I}/i1/service_bindings/${kind.id}?${Q}`)).status, 200)
  t.same(sim.databaseUsers().map(u => u.username), [], 'no user left in Atlas')
})

t.test('a certificate Atlas fails to issue leaves no user; bad parameters change nothing', async t => {
  const { sim, call } = await setup(t)
  const stop = sim.addFault({ kind: 'status', status: 500, method: 'POST', path: '/certs' })
  const failed = await call('PUT', `${I}/i1/service_bindings/c`, bindBody({ auth: 'x509' }))
  t.ok(failed.status >= 500, `a 5xx (${failed.status})`)
  t.same(sim.databaseUsers(), [], 'the user made before the certificate was removed')
  stop()
  t.equal((await call('PUT', `${I}/i1/service_bindings/c`, bindBody({ auth: 'x509' }))).status, 201, 'the platform\'s retry succeeds')

  const bad = await call('PUT', `${I}/i1/service_bindings/b`, bindBody({ auth: 'aws-iam', awsIamRoleArn: 'arn:aws:iam::123456789012:user/bob' }))
  t.equal(bad.status, 400)
  t.match(bad.body.description, /must be an IAM role ARN/)
  t.equal(sim.databaseUsers().length, 1, 'nothing more made')
})

t.test('I11/I7: rotation and expiring credentials against the simulator: both users work; the temporary one carries its deletion date', async t => {
  const { sim, call } = await setup(t)
  const old = await call('PUT', `${I}/i1/service_bindings/old`, bindBody({ expiresInHours: 3 }))
  t.equal(old.status, 201)
  const metadata = old.body.metadata as Record<string, string>
  const deleteAfter = sim.databaseUsers().find(u => u.username === 'old')?.deleteAfter
  t.equal(deleteAfter, Date.parse(metadata.expires_at!.replace(/\.\d+Z$/, 'Z')), 'Atlas deletes the user when the metadata says it expires')
  t.ok(Date.parse(metadata.renew_before!) < Date.parse(metadata.expires_at!))
  const rotated = await call('PUT', `${I}/i1/service_bindings/new`, { ...bindBody({}), predecessor_binding_id: 'old' })
  t.equal(rotated.status, 201)
  const users = sim.databaseUsers()
  t.equal(users.find(u => u.username === 'old')?.password, (old.body.credentials as Record<string, string>).password, 'the predecessor still works')
  t.equal(users.find(u => u.username === 'new')?.password, (rotated.body.credentials as Record<string, string>).password, 'the successor works')
  t.same(users.find(u => u.username === 'new')?.roles, users.find(u => u.username === 'old')?.roles, 'with the same roles')
  const iam = await call('PUT', `${I}/i1/service_bindings/iam`, bindBody({ auth: 'aws-iam', awsIamRoleArn: ROLE }))
  t.equal(iam.status, 201)
  const rotateIam = await call('PUT', `${I}/i1/service_bindings/iam2`, { ...bindBody({ auth: 'aws-iam', awsIamRoleArn: ROLE }), predecessor_binding_id: 'iam' })
  t.equal(rotateIam.status, 400)
  t.match(rotateIam.body.description, /no secret to rotate/)
})

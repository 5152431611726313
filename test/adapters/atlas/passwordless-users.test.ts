/**
 * Passwordless database users through the adapter against the simulator: the bodies and paths MongoDB's
 * clients send (recorded: x509Type MANAGED on `$external`, `DELETE .../databaseUsers/$external/<user>`,
 * `POST .../databaseUsers/<user>/certs` answering the PEM), and what Atlas refuses.
 */
import { X509Certificate } from 'node:crypto'
import t from 'tap'
import { AtlasRequestError, DatabaseUserNotFoundError } from '../../../src/ports/atlas-port.js'
import { startSim } from '../../helpers/atlas-sim.js'

const PROVIDER = 'd0123456789abcdef012345d'
const ROLE = 'arn:aws:iam::123456789012:role/app'
const base = { roles: [{ roleName: 'readWrite', databaseName: 'db' }], scopes: ['Cluster0'], labels: [] }

t.test('each kind is created where Atlas keeps it and read back as that kind', async t => {
  const { atlas, sim } = await startSim(t, { record: true, oidcIdentityProviders: [PROVIDER] })
  await atlas.createDatabaseUser({ ...base, username: ROLE, auth: 'aws-iam' })
  await atlas.createDatabaseUser({ ...base, username: 'cert-user', auth: 'x509' })
  await atlas.createDatabaseUser({ ...base, username: `${PROVIDER}/workload`, auth: 'oidc' })
  await atlas.createDatabaseUser({ ...base, username: 'pw-user', password: 'a-password-123' })
  const bodies = sim.exchanges.filter(e => e.method === 'POST' && e.status === 201 && e.path.endsWith('/databaseUsers')).map(e => e.requestBody as Record<string, unknown>)
  t.match(bodies[0], { databaseName: '$external', awsIAMType: 'ROLE', username: ROLE })
  t.notOk('password' in bodies[0]!, 'no password sent for IAM')
  t.match(bodies[1], { databaseName: '$external', x509Type: 'MANAGED' })
  t.match(bodies[2], { databaseName: '$external', oidcAuthType: 'USER' })
  t.match(bodies[3], { databaseName: 'admin', password: 'a-password-123' })
  t.same((await atlas.listDatabaseUsers()).map(u => [u.username, u.auth]).sort(), [
    [`${PROVIDER}/workload`, 'oidc'], [ROLE, 'aws-iam'], ['cert-user', 'x509'], ['pw-user', 'scram']
  ].sort())
  t.equal((await atlas.getDatabaseUser(ROLE, { auth: 'aws-iam' })).auth, 'aws-iam')
  await t.rejects(atlas.getDatabaseUser(ROLE), DatabaseUserNotFoundError, 'not on admin')

  const pem = await atlas.createUserCertificate('cert-user', 4)
  const certificate = new X509Certificate(pem)
  t.equal(certificate.subject, 'CN=cert-user')
  t.match(pem, /-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----/, 'the certificate, then its key')
  const certs = sim.exchanges.find(e => e.path.endsWith('/certs') && e.status === 201)!
  t.equal(certs.path, `/api/atlas/v2/groups/${sim.projectId}/databaseUsers/cert-user/certs`)
  t.same(certs.requestBody, { monthsUntilExpiration: 4 })
  t.equal(certs.status, 201)

  for (const [username, auth] of [[ROLE, 'aws-iam'], ['cert-user', 'x509'], [`${PROVIDER}/workload`, 'oidc']] as const) {
    await atlas.deleteDatabaseUser(username, { auth })
  }
  const deletes = sim.exchanges.filter(e => e.method === 'DELETE' && e.status === 204).map(e => e.path.split('/databaseUsers/')[1])
  t.same(deletes, [`$external/${encodeURIComponent(ROLE)}`, '$external/cert-user', `$external/${encodeURIComponent(`${PROVIDER}/workload`)}`])
  t.same((await atlas.listDatabaseUsers()).map(u => u.username), ['pw-user'])
})

t.test('what Atlas refuses: a non-ARN IAM user, an unknown OIDC provider, a certificate for a SCRAM user or for too long', async t => {
  const { atlas } = await startSim(t, { oidcIdentityProviders: [PROVIDER] })
  await t.rejects(atlas.createDatabaseUser({ ...base, username: 'not-an-arn', auth: 'aws-iam' }), AtlasRequestError)
  await t.rejects(atlas.createDatabaseUser({ ...base, username: 'ffffffffffffffffffffffff/x', auth: 'oidc' }), AtlasRequestError)
  await atlas.createDatabaseUser({ ...base, username: 'pw', password: 'a-password-123' })
  await atlas.createDatabaseUser({ ...base, username: 'cert', auth: 'x509' })
  await t.rejects(atlas.createUserCertificate('pw', 3), DatabaseUserNotFoundError, 'a SCRAM user has no certificates')
  await t.rejects(atlas.createUserCertificate('cert', 25), AtlasRequestError)
  await t.rejects(atlas.createUserCertificate('nobody', 3), DatabaseUserNotFoundError)
})

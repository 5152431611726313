/**
 * Passwordless bindings: an AWS IAM role, an Atlas-managed X.509 certificate, OIDC workload identity, chosen by
 * the bind's `auth` parameter where the plan allows it; each checked before anything is made. Policies see the
 * asked kind and lifetime and decide them.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto'
import t from 'tap'
import { defaultCatalog } from '../../src/app/default-catalog.js'
import { type BrokerCatalog, validateCatalog } from '../../src/domain/catalog.js'
import { defaultPolicy } from '../../src/domain/default-policy.js'
import { AtlasUnavailableError } from '../../src/ports/atlas-port.js'
import {
  type BindDetails, type ProvisionDetails, BadRequestError, BindingConflictError, BindingNotFoundError, ServiceUnavailableError
} from '../../src/ports/service-broker.js'
import { makeBroker, PLAN_ID, SERVICE_ID } from '../helpers/broker.js'

const PROVIDER = 'd0123456789abcdef012345d'
const ROLE = 'arn:aws:iam::123456789012:role/team-a/orders-app'
const provision: ProvisionDetails = { serviceId: SERVICE_ID, planId: PLAN_ID, organizationGuid: 'o', spaceGuid: 's', parameters: { database: 'db1' } }
const bind = (parameters: Record<string, unknown> = {}): BindDetails => ({ serviceId: SERVICE_ID, planId: PLAN_ID, parameters })

function catalogAllowing (settings: Record<string, unknown>): BrokerCatalog {
  const catalog = structuredClone(defaultCatalog)
  catalog.services[0]!.plans[0]!.atlas = { kind: 'shared-cluster', ...settings }
  return catalog
}

const ALL = catalogAllowing({ bindingAuth: ['scram', 'aws-iam', 'x509', 'oidc'], oidcIdentityProviderId: PROVIDER })

t.test('aws-iam: the user is the role ARN on $external, the URI signs in with MONGODB-AWS, no password anywhere', async t => {
  const { broker, atlas } = makeBroker({ catalog: ALL })
  await broker.provision('i', provision, false, {})
  const spec = await broker.bind('i', 'b', bind({ auth: 'aws-iam', awsIamRoleArn: ROLE }), false, {})
  const credentials = spec.credentials as Record<string, unknown>
  t.equal(credentials.username, ROLE)
  t.equal(credentials.password, undefined, 'no password')
  t.equal(credentials.authSource, '$external')
  t.equal(credentials.authMechanism, 'MONGODB-AWS')
  t.equal(credentials.uri, 'mongodb+srv://cluster0.abcde.mongodb.net/db1?authSource=%24external&authMechanism=MONGODB-AWS&retryWrites=true&w=majority')
  t.equal(atlas.users.get(ROLE)?.auth, 'aws-iam')
  t.same(await broker.getBinding('i', 'b', {}).then(f => f.credentials), credentials, 'fetch answers the same')
  await broker.unbind('i', 'b', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {})
  t.notOk(atlas.users.has(ROLE), 'unbind deletes the user (on $external)')
})

t.test('aws-iam: what is not a role ARN is a 400 naming the parameter; nothing is made', async t => {
  const { broker, atlas, storage } = makeBroker({ catalog: ALL })
  await broker.provision('i', provision, false, {})
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ auth: 'aws-iam' }, /needs parameter 'awsIamRoleArn'/],
    [{ auth: 'aws-iam', awsIamRoleArn: 'arn:aws:iam::123456789012:user/bob' }, /must be an IAM role ARN/],
    [{ auth: 'aws-iam', awsIamRoleArn: 'arn:aws:iam::12345:role/x' }, /must be an IAM role ARN/],
    [{ auth: 'aws-iam', awsIamRoleArn: 'arn:aws:sts::123456789012:assumed-role/x/session' }, /must be an IAM role ARN/],
    [{ auth: 'aws-iam', awsIamRoleArn: 42 }, /must be an IAM role ARN/],
    [{ auth: 'aws-iam', awsIamRoleArn: ROLE, certificateMonths: 3 }, /'certificateMonths' applies only to auth x509/],
    [{ awsIamRoleArn: ROLE }, /'awsIamRoleArn' applies only to auth aws-iam, and this binding uses scram/],
    [{ auth: 'ldap' }, /parameter 'auth' must be one of scram, aws-iam, x509, oidc/]
  ]
  for (const [parameters, message] of bad) {
    await t.rejects(broker.bind('i', 'b', bind(parameters), false, {}), { constructor: BadRequestError, message }, JSON.stringify(parameters))
  }
  t.equal(atlas.users.size, 0)
  t.equal(await storage.getBinding('b'), undefined)
})

t.test('aws-iam: a second binding of the same role is a conflict that leaves the first alone', async t => {
  const { broker, atlas, storage } = makeBroker({ catalog: ALL })
  await broker.provision('i', provision, false, {})
  await broker.bind('i', 'first', bind({ auth: 'aws-iam', awsIamRoleArn: ROLE }), false, {})
  await t.rejects(broker.bind('i', 'second', bind({ auth: 'aws-iam', awsIamRoleArn: ROLE }), false, {}),
    { constructor: BindingConflictError, message: /IAM role .* already has an Atlas user/ })
  t.ok(atlas.users.get(ROLE)?.labels.some(l => l.value === 'first'), 'the first binding\'s user is untouched')
  t.equal(await storage.getBinding('second'), undefined)
  // Rotating an IAM binding would need the same user: there is no secret to rotate.
  const rotatable = structuredClone(ALL)
  rotatable.services[0]!.plans[0]!.binding_rotatable = true
  const again = makeBroker({ catalog: rotatable, atlas, storage })
  await t.rejects(again.broker.bind('i', 'next', { ...bind(), predecessorBindingId: 'first' }, false, {}), { constructor: BadRequestError, message: /no secret to rotate/ })
  const scram = await again.broker.bind('i', 'next', { ...bind({ auth: 'scram' }), predecessorBindingId: 'first' }, false, {})
  t.type((scram.credentials as Record<string, unknown>).password, 'string', 'a successor that signs in another way is a new user')
})

t.test('x509: Atlas issues a certificate; credentials carry it and its key; metadata says when it expires', async t => {
  const now = Date.now()
  const { broker, atlas } = makeBroker({ catalog: ALL, now: () => now })
  await broker.provision('i', provision, false, {})
  const spec = await broker.bind('i', 'b', bind({ auth: 'x509', certificateMonths: 2 }), false, {})
  const c = spec.credentials as Record<string, string>
  const certificate = new X509Certificate(c.certificate!)
  t.equal(certificate.subject, 'CN=b', 'issued to the binding\'s user')
  t.ok(certificate.checkPrivateKey(createPrivateKey(c.privateKey!)), 'the key belongs to the certificate')
  t.equal(c.certificateKeyPem, `${c.certificate!}${c.privateKey!}`)
  t.equal(c.password, undefined)
  t.match(c.uri, /^mongodb\+srv:\/\/cluster0\.abcde\.mongodb\.net\/db1\?authSource=%24external&authMechanism=MONGODB-X509/)
  t.equal(spec.metadata?.expires_at, new Date(certificate.validTo).toISOString())
  t.equal(c.certificateExpiresAt, spec.metadata?.expires_at)
  t.equal(atlas.users.get('b')?.auth, 'x509')
  const fetched = await broker.getBinding('i', 'b', {})
  t.same(fetched.credentials, spec.credentials, 'fetch answers the same certificate (kept sealed), not a new one')
  t.equal(atlas.certificates.get('b')?.length, 1)
})

t.test('x509: months are checked, the plan sets the default; an expired certificate is gone for fetch', async t => {
  let clock = Date.now()
  const catalog = catalogAllowing({ bindingAuth: ['x509'], certificateMonths: 1 })
  const { broker, atlas } = makeBroker({ catalog, now: () => clock })
  await broker.provision('i', provision, false, {})
  for (const months of [0, 25, 1.5, '3']) {
    await t.rejects(broker.bind('i', 'bad', bind({ certificateMonths: months }), false, {}), { constructor: BadRequestError, message: /1 to 24/ }, String(months))
  }
  const spec = await broker.bind('i', 'b', bind(), false, {})
  const days = (Date.parse(spec.metadata!.expires_at!) - clock) / 86400_000
  t.ok(days >= 27 && days <= 32, `the plan's one month (${days.toFixed(1)} days)`)
  await t.rejects(broker.bind('i', 'p', bind({ auth: 'scram' }), false, {}), { message: /authenticate with x509, not scram/ })
  clock = Date.parse(spec.metadata!.expires_at!) + 1
  await t.rejects(broker.getBinding('i', 'b', {}), BindingNotFoundError)
  await broker.unbind('i', 'b', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {})
  t.equal(atlas.users.size, 0)
})

t.test('x509: a certificate Atlas could not issue leaves no user and no record', async t => {
  const { broker, atlas, storage } = makeBroker({ catalog: ALL })
  await broker.provision('i', provision, false, {})
  atlas.failNext('createUserCertificate', new AtlasUnavailableError('down'))
  await t.rejects(broker.bind('i', 'b', bind({ auth: 'x509' }), false, {}), ServiceUnavailableError)
  t.equal(atlas.users.size, 0)
  t.equal(await storage.getBinding('b'), undefined)
  const spec = await broker.bind('i', 'b', bind({ auth: 'x509' }), false, {})
  t.type((spec.credentials as Record<string, unknown>).certificate, 'string', 'the retry succeeds')
})

t.test('oidc: the user is <provider>/<identity>; the URI names MONGODB-OIDC and the environment', async t => {
  const { broker, atlas } = makeBroker({ catalog: ALL })
  await broker.provision('i', provision, false, {})
  const spec = await broker.bind('i', 'b', bind({ auth: 'oidc', oidcIdentity: 'system:serviceaccount:team-a:orders', oidcEnvironment: 'k8s' }), false, {})
  const c = spec.credentials as Record<string, string>
  t.equal(c.username, `${PROVIDER}/system:serviceaccount:team-a:orders`)
  t.equal(c.authMechanism, 'MONGODB-OIDC')
  t.equal(c.authMechanismProperties, 'ENVIRONMENT:k8s')
  t.match(c.uri, /\?authSource=%24external&authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT%3Ak8s&/)
  t.equal(atlas.users.get(c.username!)?.auth, 'oidc')
  const azure = await broker.bind('i', 'az', bind({ auth: 'oidc', oidcIdentity: 'c1d2', oidcEnvironment: 'azure', oidcTokenResource: 'api://atlas' }), false, {})
  t.equal((azure.credentials as Record<string, string>).authMechanismProperties, 'ENVIRONMENT:azure,TOKEN_RESOURCE:api://atlas')
  for (const [parameters, message] of [
    [{ auth: 'oidc' }, /needs parameter 'oidcIdentity'/],
    [{ auth: 'oidc', oidcIdentity: 'has space' }, /printable characters without spaces/],
    [{ auth: 'oidc', oidcIdentity: 'x', oidcEnvironment: 'aws' }, /must be one of k8s, azure, gcp/],
    [{ auth: 'oidc', oidcIdentity: 'x', oidcEnvironment: 'gcp' }, /needs parameter 'oidcTokenResource'/]
  ] as Array<[Record<string, unknown>, RegExp]>) {
    await t.rejects(broker.bind('i', 'bad', bind(parameters), false, {}), { constructor: BadRequestError, message }, JSON.stringify(parameters))
  }
  t.match(validateCatalog(catalogAllowing({ bindingAuth: ['scram', 'oidc'] })), [/atlas.bindingAuth allows oidc, which needs atlas.oidcIdentityProviderId/])
  t.match(validateCatalog(catalogAllowing({ bindingAuth: ['kerberos'] })), [/atlas.bindingAuth must list some of scram, aws-iam, x509, oidc/])
  t.match(validateCatalog(catalogAllowing({ certificateMonths: 36 })), [/certificateMonths must be a whole number from 1 to 24/])
  t.match(validateCatalog(catalogAllowing({ bindingAuth: ['oidc'], oidcIdentityProviderId: 'okta' })), [/24 hexadecimal digits/])
})

t.test('policies see the asked auth kind and lifetime and decide them', async t => {
  const seen: Array<{ auth: string, lifetimeHours?: number }> = []
  const { broker, atlas } = makeBroker({
    catalog: ALL,
    policy: {
      ...defaultPolicy,
      bindingAuth: b => { seen.push({ auth: b.auth, ...(b.lifetimeHours === undefined ? {} : { lifetimeHours: b.lifetimeHours }) }); return b.context.platform === 'kubernetes' ? 'x509' : b.auth },
      bindingLifetimeHours: b => b.auth === 'x509' ? 24 : b.lifetimeHours
    }
  })
  await broker.provision('i', provision, false, {})
  const k8s = await broker.bind('i', 'k', { ...bind({ expiresInHours: 2 }), context: { platform: 'kubernetes' } }, false, {})
  t.same(seen[0], { auth: 'scram', lifetimeHours: 2 })
  t.equal(atlas.users.get('k')?.auth, 'x509', 'the policy chose a certificate')
  t.ok(atlas.users.get('k')?.deleteAfterDate, 'and a 24-hour temporary user')
  t.type((k8s.credentials as Record<string, unknown>).certificate, 'string')
  await broker.bind('i', 'cf', bind(), false, {})
  t.equal(atlas.users.get('cf')?.auth, 'scram')
  t.equal(atlas.users.get('cf')?.deleteAfterDate, undefined, 'no lifetime asked, none given')

  const notAllowed = makeBroker({ catalog: catalogAllowing({}), policy: { ...defaultPolicy, bindingAuth: () => 'aws-iam' } })
  await notAllowed.broker.provision('i', provision, false, {})
  await t.rejects(notAllowed.broker.bind('i', 'b', bind(), false, {}), { constructor: BadRequestError, message: /authenticate with scram, not aws-iam/ })
  const badLifetime = makeBroker({ policy: { ...defaultPolicy, bindingLifetimeHours: () => 500 } })
  await badLifetime.broker.provision('i', provision, false, {})
  await t.rejects(badLifetime.broker.bind('i', 'b', bind(), false, {}), { message: 'policy hook bindingLifetimeHours failed' })
  t.equal(badLifetime.atlas.users.size, 0)
})

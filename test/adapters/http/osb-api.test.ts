/**
 * The OSB contract through `inject`: every CHECKLIST rule that applies to the shared-cluster plan's routes.
 * Each response is also validated against the OSB spec and checked for a JSON body (see osb-client.ts).
 * Rule ids (A1, D7, Z8, ...) refer to ../shared/specs/osb/CHECKLIST.md.
 */
import t from 'tap'
import type { BrokerCatalog } from '../../../src/domain/catalog.js'
import { defaultCatalog } from '../../../src/app/default-catalog.js'
import {
  AUTH, bindBody, DELETE_QUERY, makeApp, PLAN_ID, provisionBody, SERVICE_ID
} from '../../helpers/broker.js'
import { osb } from '../../helpers/osb-client.js'

const I = '/v2/service_instances'

t.test('A10/A11/A15/Z7: transport, headers, auth, errors (every answer checked against the OSB spec and for a JSON body)', async t => {
  const { app } = await makeApp(t)

  t.test('A8: 401 without or with wrong basic auth, before validation', async t => {
    const none = await osb(app, t, 'PUT', `${I}/x`, { headers: { authorization: undefined }, rawBody: '{not json' })
    t.equal(none.status, 401)
    t.match(String(none.headers['www-authenticate']), /^Basic realm="atlas-broker"/)
    const wrongPass = await osb(app, t, 'GET', '/v2/catalog', { headers: { authorization: `Basic ${Buffer.from('broker-user:nope').toString('base64')}` } })
    t.equal(wrongPass.status, 401)
    const wrongUser = await osb(app, t, 'GET', '/v2/catalog', { headers: { authorization: `Basic ${Buffer.from('nobody:broker-password-123').toString('base64')}` } })
    t.equal(wrongUser.status, 401)
    const garbage = await osb(app, t, 'GET', '/v2/catalog', { headers: { authorization: 'Bearer abc' } })
    t.equal(garbage.status, 401)
  })

  t.test('A1/A2/A3/Z1/Z2: 412 for a missing, empty, unparsable or non-2.x version, before parsing and validation', async t => {
    for (const version of [undefined, '', 'abc', '1.0', '3.0', '2', '2.x']) {
      const r = await osb(app, t, 'PUT', `${I}/x`, { headers: { 'x-broker-api-version': version }, rawBody: '{not json' })
      t.equal(r.status, 412, `version ${String(version)}`)
      t.match(r.body.description, /2\.17/)
    }
    for (const version of ['2.11', '2.13', '2.14', '2.17', '2.99']) {
      const r = await osb(app, t, 'GET', '/v2/catalog', { headers: { 'x-broker-api-version': version } })
      t.equal(r.status, 200, `version ${version} accepted`)
    }
  })

  t.test('A6/Z11: X-Broker-API-Request-Identity echoed on every response, 401/412/404 included', async t => {
    const id = 'e26cea8c-1c0c-4a89-8da7-e6c0d0a1a7a5'
    const ok = await osb(app, t, 'GET', '/v2/catalog', { headers: { 'x-broker-api-request-identity': id } })
    t.equal(ok.headers['x-broker-api-request-identity'], id)
    const badVersion = await osb(app, t, 'GET', '/v2/catalog', { headers: { 'x-broker-api-request-identity': id, 'x-broker-api-version': '1.0' } })
    t.equal(badVersion.headers['x-broker-api-request-identity'], id)
    const noAuth = await osb(app, t, 'GET', '/v2/catalog', { headers: { 'x-broker-api-request-identity': id, authorization: undefined } })
    t.equal(noAuth.headers['x-broker-api-request-identity'], id)
    const missing = await osb(app, t, 'GET', `${I}/unknown`, { headers: { 'x-broker-api-request-identity': id } })
    t.equal(missing.status, 404)
    t.equal(missing.headers['x-broker-api-request-identity'], id)
  })

  t.test('A4/A5: originating identity parsed when valid, never required, tolerated when garbled', async t => {
    const value = Buffer.from(JSON.stringify({ user_id: 'u-1' })).toString('base64')
    const ok = await osb(app, t, 'PUT', `${I}/oi-1`, { body: provisionBody(), headers: { 'x-broker-api-originating-identity': `cloudfoundry ${value}` } })
    t.equal(ok.status, 201)
    const garbled = await osb(app, t, 'PUT', `${I}/oi-2`, { body: provisionBody(), headers: { 'x-broker-api-originating-identity': 'kubernetes %%%not-base64' } })
    t.equal(garbled.status, 201)
  })

  t.test('A7: unknown fields in body and context are ignored', async t => {
    const r = await osb(app, t, 'PUT', `${I}/a7`, {
      body: provisionBody({ unknown_field: { deep: true }, context: { platform: 'sapcp', whatever: 1 }, another: 'x' })
    })
    t.equal(r.status, 201)
  })

  t.test('A9: ids with any characters, percent-encoded', async t => {
    const instanceId = 'weird id/with:chars?&é'
    const bindingId = 'b%/ #1'
    const iu = `${I}/${encodeURIComponent(instanceId)}`
    t.equal((await osb(app, t, 'PUT', iu, { body: provisionBody() })).status, 201)
    const bound = await osb(app, t, 'PUT', `${iu}/service_bindings/${encodeURIComponent(bindingId)}`, { body: bindBody() })
    t.equal(bound.status, 201)
    t.equal((await osb(app, t, 'GET', iu)).status, 200)
    t.equal((await osb(app, t, 'DELETE', `${iu}/service_bindings/${encodeURIComponent(bindingId)}?${DELETE_QUERY}`)).status, 200)
    t.equal((await osb(app, t, 'DELETE', `${iu}?${DELETE_QUERY}`)).status, 200)
  })

  t.test('A14: malformed JSON is 400; a JSON body with another content type is read', async t => {
    const bad = await osb(app, t, 'PUT', `${I}/a14`, { rawBody: '{"service_id": ' })
    t.equal(bad.status, 400)
    t.match(bad.body.description, /JSON/i)
    const plain = await osb(app, t, 'PUT', `${I}/a14`, { rawBody: JSON.stringify(provisionBody()), headers: { 'content-type': 'text/plain' } })
    t.equal(plain.status, 201)
  })

  t.test('unknown routes answer a JSON 404', async t => {
    const r = await osb(app, t, 'GET', '/v2/nothing')
    t.equal(r.status, 404)
  })
})

t.test('B1/B4/B5/B6/B7/B8/B10/B12: catalog', async t => {
  const { app } = await makeApp(t)
  const r = await osb(app, t, 'GET', '/v2/catalog')
  t.equal(r.status, 200)
  const services = r.body.services as Array<Record<string, unknown>>
  t.equal(services.length, 1)
  const service = services[0]!
  t.equal(service.id, SERVICE_ID, 'B2: the seed service id is kept')
  t.equal(service.name, 'atlas-mongodb-cluster')
  t.equal(service.instances_retrievable, true)
  t.equal(service.bindings_retrievable, true)
  const plans = service.plans as Array<Record<string, unknown>>
  const plan = plans.find(p => p.id === PLAN_ID)!
  t.equal(plan.name, 'atlas-mongodb-existing-cluster', 'B2: the seed plan id and name are kept')
  t.equal(plan.plan_updateable, false)
  t.notOk('atlas' in plan, 'broker-only plan settings are not served')
  const schema = (plan.schemas as { service_instance: { create: { parameters: Record<string, unknown> } } }).service_instance.create.parameters
  t.type(schema.$schema, 'string', 'B11: parameter schemas carry $schema')
  t.ok((schema.properties as Record<string, unknown>).cluster)
  t.ok((schema.properties as Record<string, unknown>).database)
  for (const s of services) {
    t.match(s.name, /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'Z10: CLI-friendly service name')
    for (const p of s.plans as Array<Record<string, unknown>>) t.match(p.name, /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/)
  }
  const again = await osb(app, t, 'GET', '/v2/catalog')
  t.same(again.body, r.body, 'B2: the same catalog on every query')
})

t.test('D: provision', async t => {
  t.test('D4/D3/D7: 201 created, 200 identical repeat, 409 different attributes', async t => {
    const { app } = await makeApp(t)
    const body = provisionBody({ parameters: { database: 'orders' }, context: { platform: 'kubernetes', namespace: 'ns1' } })
    const created = await osb(app, t, 'PUT', `${I}/d1`, { body })
    t.equal(created.status, 201)
    t.same(created.body, {})
    const repeat = await osb(app, t, 'PUT', `${I}/d1`, { body })
    t.equal(repeat.status, 200)
    const async = await osb(app, t, 'PUT', `${I}/d1?accepts_incomplete=true`, { body })
    t.equal(async.status, 200, 'C2: a synchronous plan ignores accepts_incomplete')
    for (const changed of [
      provisionBody({ parameters: { database: 'other' } }),
      provisionBody({ organization_guid: 'org-2', parameters: { database: 'orders' } }),
      provisionBody({ space_guid: 'space-2', parameters: { database: 'orders' } })
    ]) {
      const conflict = await osb(app, t, 'PUT', `${I}/d1`, { body: changed })
      t.equal(conflict.status, 409)
    }
  })

  t.test('C1/C2/C5: accepts_incomplete=true on the synchronous shared plan still answers 201', async t => {
    const { app } = await makeApp(t)
    t.equal((await osb(app, t, 'PUT', `${I}/sync?accepts_incomplete=true`, { body: provisionBody() })).status, 201)
  })

  t.test('D2/D6/Z3: missing or empty mandatory fields are 400 and create nothing', async t => {
    const { app, storage } = await makeApp(t)
    for (const field of ['service_id', 'plan_id', 'organization_guid', 'space_guid']) {
      const missing = provisionBody()
      delete missing[field]
      const r = await osb(app, t, 'PUT', `${I}/d2`, { body: missing })
      t.equal(r.status, 400, `missing ${field}`)
      t.match(r.body.description, field)
      const empty = await osb(app, t, 'PUT', `${I}/d2`, { body: provisionBody({ [field]: '' }) })
      t.equal(empty.status, 400, `empty ${field}`)
    }
    t.equal(await storage.getInstance('d2'), undefined)
  })

  t.test('Z3: unknown service, unknown plan, plan of another service are 400', async t => {
    const catalog: BrokerCatalog = {
      services: [...defaultCatalog.services, {
        id: 'b0b9b0c4-0000-4000-8000-000000000001',
        name: 'other-service',
        description: 'another service',
        bindable: true,
        plans: [{ id: 'b0b9b0c4-0000-4000-8000-000000000002', name: 'other-plan', description: 'x', atlas: { kind: 'shared-cluster' } }]
      }]
    }
    const { app } = await makeApp(t, { catalog })
    const unknownService = await osb(app, t, 'PUT', `${I}/z3`, { body: provisionBody({ service_id: 'nope' }) })
    t.equal(unknownService.status, 400)
    t.match(unknownService.body.description, /service_id nope/)
    const unknownPlan = await osb(app, t, 'PUT', `${I}/z3`, { body: provisionBody({ plan_id: 'nope' }) })
    t.equal(unknownPlan.status, 400)
    const otherPlan = await osb(app, t, 'PUT', `${I}/z3`, { body: provisionBody({ plan_id: 'b0b9b0c4-0000-4000-8000-000000000002' }) })
    t.equal(otherPlan.status, 400)
    t.match(otherPlan.body.description, /does not belong/)
  })

  t.test('D6: bad parameters are 400 with a description naming the problem', async t => {
    const { app, storage } = await makeApp(t)
    const unknownCluster = await osb(app, t, 'PUT', `${I}/d6`, { body: provisionBody({ parameters: { cluster: 'NoSuchCluster' } }) })
    t.equal(unknownCluster.status, 400)
    t.match(unknownCluster.body.description, /NoSuchCluster/)
    const unknownParam = await osb(app, t, 'PUT', `${I}/d6`, { body: provisionBody({ parameters: { clusterr: 'x' } }) })
    t.equal(unknownParam.status, 400)
    t.match(unknownParam.body.description, /clusterr/)
    const wrongType = await osb(app, t, 'PUT', `${I}/d6`, { body: provisionBody({ parameters: { database: 42 } }) })
    t.equal(wrongType.status, 400)
    const badName = await osb(app, t, 'PUT', `${I}/d6`, { body: provisionBody({ parameters: { database: 'a.b' } }) })
    t.equal(badName.status, 400)
    const notObject = await osb(app, t, 'PUT', `${I}/d6`, { body: provisionBody({ parameters: 'x' }) })
    t.equal(notObject.status, 400)
    const numericId = await osb(app, t, 'PUT', `${I}/d6`, { body: provisionBody({ service_id: 12 }) })
    t.equal(numericId.status, 400, 'wrong JSON types are not coerced')
    t.equal(await storage.getInstance('d6'), undefined)
  })

  t.test('the configured default cluster stands in when `cluster` is absent; several instances may share a database', async t => {
    const { app, storage } = await makeApp(t)
    t.equal((await osb(app, t, 'PUT', `${I}/s1`, { body: provisionBody({ parameters: { database: 'shared' } }) })).status, 201)
    t.equal((await osb(app, t, 'PUT', `${I}/s2`, { body: provisionBody({ parameters: { database: 'shared', cluster: 'Cluster0' } }) })).status, 201)
    t.equal((await storage.getInstance('s1'))?.cluster, 'Cluster0')
    t.equal((await storage.getInstance('s2'))?.database, 'shared')
  })

  t.test('without a default cluster, `cluster` is required', async t => {
    const { app } = await makeApp(t, { settings: { defaultCluster: undefined } })
    const r = await osb(app, t, 'PUT', `${I}/nc`, { body: provisionBody() })
    t.equal(r.status, 400)
    t.match(r.body.description, /cluster/)
  })

  t.test('D9/Z4: maintenance_info conflicts are 422; an empty maintenance_info is absent', async t => {
    const { app } = await makeApp(t)
    const conflict = await osb(app, t, 'PUT', `${I}/d9`, { body: provisionBody({ maintenance_info: { version: '9.9.9' } }) })
    t.equal(conflict.status, 422)
    t.equal(conflict.body.error, 'MaintenanceInfoConflict')
    t.equal((await osb(app, t, 'PUT', `${I}/d9`, { body: provisionBody({ maintenance_info: {} }) })).status, 201)
    t.equal((await osb(app, t, 'PUT', `${I}/d9b`, { body: provisionBody({ maintenance_info: { version: '1.0.0' } }) })).status, 201)
  })

  t.test('bad input: huge bodies are 413, nothing stored', async t => {
    const { app, storage } = await makeApp(t)
    const r = await osb(app, t, 'PUT', `${I}/huge`, { body: provisionBody({ parameters: { database: 'x', blob: 'x'.repeat(2 * 1024 * 1024) } }) })
    t.equal(r.status, 413)
    t.equal(await storage.getInstance('huge'), undefined)
  })
})

t.test('E1/E2/E5: fetch instance', async t => {
  const { app } = await makeApp(t)
  await osb(app, t, 'PUT', `${I}/e1`, { body: provisionBody({ parameters: { database: 'e1db' } }) })
  const r = await osb(app, t, 'GET', `${I}/e1`)
  t.equal(r.status, 200)
  t.equal(r.body.service_id, SERVICE_ID)
  t.equal(r.body.plan_id, PLAN_ID)
  t.same(r.body.parameters, { database: 'e1db' })
  t.same(r.body.maintenance_info, { version: '1.0.0', description: 'Initial release' })
  t.equal((await osb(app, t, 'GET', `${I}/nope`)).status, 404, 'E3: unknown is 404')
  await osb(app, t, 'DELETE', `${I}/e1?${DELETE_QUERY}`)
  t.equal((await osb(app, t, 'GET', `${I}/e1`)).status, 404, 'deleted is 404')
})

t.test('F: update', async t => {
  const { app, storage } = await makeApp(t)
  await osb(app, t, 'PUT', `${I}/f1`, { body: provisionBody({ parameters: { database: 'f1db' }, context: { platform: 'cloudfoundry', instance_name: 'old' } }) })

  t.test('F2: without plan_id and parameters nothing changes; context updates apply (M4)', async t => {
    const r = await osb(app, t, 'PATCH', `${I}/f1`, { body: { service_id: SERVICE_ID, context: { platform: 'cloudfoundry', instance_name: 'new' } } })
    t.equal(r.status, 200)
    t.same(r.body, {})
    const record = await storage.getInstance('f1')
    t.equal(record?.planId, PLAN_ID)
    t.same(record?.context, { platform: 'cloudfoundry', instance_name: 'new' })
    t.same(record?.parameters, { database: 'f1db' })
  })

  t.test('F1/F3: a plan change on a plan that is not updateable is 422; unknown plan 400', async t => {
    const catalog = structuredClone(defaultCatalog)
    catalog.services[0]!.plans.push({ id: '5e6ee2f1-0000-4000-8000-000000000009', name: 'second-plan', description: 'another', atlas: { kind: 'shared-cluster' } })
    const made = await makeApp(t, { catalog })
    await osb(made.app, t, 'PUT', `${I}/f3`, { body: provisionBody() })
    const change = await osb(made.app, t, 'PATCH', `${I}/f3`, { body: { service_id: SERVICE_ID, plan_id: '5e6ee2f1-0000-4000-8000-000000000009' } })
    t.equal(change.status, 422)
    t.match(change.body.description, /plan/)
    t.notOk('instance_usable' in change.body && change.body.instance_usable === false)
    const unknown = await osb(made.app, t, 'PATCH', `${I}/f3`, { body: { service_id: SERVICE_ID, plan_id: 'nope' } })
    t.equal(unknown.status, 400)
    t.equal((await made.storage.getInstance('f3'))?.planId, PLAN_ID, 'F7: nothing applied')
  })

  t.test('F6/F7: parameter changes the plan does not allow are 422 and apply nothing', async t => {
    const before = await storage.getInstance('f1')
    const r = await osb(app, t, 'PATCH', `${I}/f1`, { body: { service_id: SERVICE_ID, parameters: { database: 'elsewhere' }, context: { platform: 'cloudfoundry', instance_name: 'x' } } })
    t.equal(r.status, 422)
    t.match(r.body.description, /database/)
    const after = await storage.getInstance('f1')
    t.same(after?.parameters, before?.parameters)
    t.same(after?.context, before?.context)
    const invalid = await osb(app, t, 'PATCH', `${I}/f1`, { body: { service_id: SERVICE_ID, parameters: { bogus: 1 } } })
    t.equal(invalid.status, 400)
    const same = await osb(app, t, 'PATCH', `${I}/f1`, { body: { service_id: SERVICE_ID, parameters: { database: 'f1db' } } })
    t.equal(same.status, 200, 'F4: a change with no effect is 200')
  })

  t.test('F6: maintenance_info conflict, missing service_id, unknown instance', async t => {
    const conflict = await osb(app, t, 'PATCH', `${I}/f1`, { body: { service_id: SERVICE_ID, maintenance_info: { version: '2.0.0' } } })
    t.equal(conflict.status, 422)
    t.equal(conflict.body.error, 'MaintenanceInfoConflict')
    t.equal((await osb(app, t, 'PATCH', `${I}/f1`, { body: { plan_id: PLAN_ID } })).status, 400)
    t.equal((await osb(app, t, 'PATCH', `${I}/f1`, { body: { service_id: '' } })).status, 400)
    t.equal((await osb(app, t, 'PATCH', `${I}/unknown`, { body: { service_id: SERVICE_ID } })).status, 404)
    t.equal((await osb(app, t, 'PATCH', `${I}/f1`, { body: { service_id: SERVICE_ID, previous_values: { maintenance_info: {} } } })).status, 200, 'Z4')
  })
})

t.test('G1/G2/G4/G6/Z5/Z6: instance last_operation', async t => {
  const { app } = await makeApp(t)
  await osb(app, t, 'PUT', `${I}/g1`, { body: provisionBody() })
  const plain = await osb(app, t, 'GET', `${I}/g1/last_operation`)
  t.equal(plain.status, 200)
  t.equal(plain.body.state, 'succeeded')
  const foreign = await osb(app, t, 'GET', `${I}/g1/last_operation?service_id=${SERVICE_ID}&plan_id=${PLAN_ID}&operation=${encodeURIComponent('not-ours %')}`)
  t.equal(foreign.status, 200, 'Z5: an operation the broker did not issue is not rejected')
  t.equal((await osb(app, t, 'GET', `${I}/none/last_operation`)).status, 404, 'G3: unknown is 404')
  await osb(app, t, 'DELETE', `${I}/g1?${DELETE_QUERY}`)
  const tomb = await osb(app, t, 'GET', `${I}/g1/last_operation`)
  t.equal(tomb.status, 200, 'Z6: a deleted instance answers succeeded')
  t.equal(tomb.body.state, 'succeeded')
})

t.test('H1/H2/H4/D1: deprovision', async t => {
  const { app, atlas, storage } = await makeApp(t)
  await osb(app, t, 'PUT', `${I}/h1`, { body: provisionBody() })
  await osb(app, t, 'PUT', `${I}/h1/service_bindings/hb1`, { body: bindBody() })
  await osb(app, t, 'PUT', `${I}/h1/service_bindings/hb2`, { body: bindBody() })
  t.equal(atlas.users.size, 2)

  for (const query of [`plan_id=${PLAN_ID}`, `service_id=${SERVICE_ID}`, '', `service_id=&plan_id=${PLAN_ID}`]) {
    const r = await osb(app, t, 'DELETE', `${I}/h1?${query}`)
    t.equal(r.status, 400, `H2: query '${query}'`)
  }
  t.equal((await storage.getInstance('h1'))?.state, 'ready', 'A13: nothing changed by the 400s')

  const r = await osb(app, t, 'DELETE', `${I}/h1?${DELETE_QUERY}`, { headers: { 'content-type': 'application/json' } })
  t.equal(r.status, 200, 'Z8: DELETE with a JSON content type and an empty body')
  t.same(r.body, {})
  t.equal(atlas.users.size, 0, 'H1: the bindings\' users are revoked too')
  const again = await osb(app, t, 'DELETE', `${I}/h1?${DELETE_QUERY}`)
  t.equal(again.status, 410)
  t.same(again.body, {}, 'H4: 410 {}')
  t.equal((await osb(app, t, 'DELETE', `${I}/never?${DELETE_QUERY}`)).status, 410)
  t.equal((await osb(app, t, 'PUT', `${I}/h1/service_bindings/hb3`, { body: bindBody() })).status, 404, 'no bind on a deleted instance')
  t.equal((await osb(app, t, 'PUT', `${I}/h1`, { body: provisionBody() })).status, 201, 'a deleted id may be provisioned again')
})

t.test('I1/I2/I3/I7/J1/J2/K1/K3/K5/M1/M2/M3: bind, fetch binding, binding last_operation, unbind', async t => {
  const { app, atlas } = await makeApp(t)
  await osb(app, t, 'PUT', `${I}/i1`, { body: provisionBody({ parameters: { database: 'appdb' } }) })
  const B = `${I}/i1/service_bindings/b1`

  const created = await osb(app, t, 'PUT', B, { body: bindBody({ bind_resource: {}, context: { platform: 'cloudfoundry' } }) })
  t.equal(created.status, 201, 'I5: 201 created (Z9: synchronous without accepts_incomplete)')
  const credentials = created.body.credentials as Record<string, unknown>
  t.equal(credentials.username, 'b1')
  t.equal(credentials.database, 'appdb')
  t.type(credentials.password, 'string')
  t.ok((credentials.password as string).length >= 8)
  t.match(credentials.uri, /^mongodb\+srv:\/\/b1:[^@]+@cluster0\.abcde\.mongodb\.net\/appdb\?authSource=admin/)
  t.match(credentials.connectionStrings, { standard: /^mongodb:\/\//, standardSrv: /^mongodb\+srv:\/\// })
  t.same(created.body.endpoints, [
    { host: 'cluster0-shard-00-00.abcde.mongodb.net', ports: ['27017'], protocol: 'tcp' },
    { host: 'cluster0-shard-00-01.abcde.mongodb.net', ports: ['27017'], protocol: 'tcp' }
  ], 'I4/I9: endpoints')
  const user = atlas.users.get('b1')!
  t.same(user.roles, [{ roleName: 'readWrite', databaseName: 'appdb' }], 'least privilege: readWrite on the instance database')
  t.same(user.scopes, ['Cluster0'], 'the user is scoped to the instance cluster')
  t.equal(user.password, credentials.password)

  const repeat = await osb(app, t, 'PUT', B, { body: bindBody({ context: { platform: 'kubernetes', namespace: 'n' } }) })
  t.equal(repeat.status, 200, 'I5: identical repeat is 200')
  t.same(repeat.body.credentials, credentials, 'with the same credentials')
  t.equal(atlas.count('createDatabaseUser'), 1)

  t.equal((await osb(app, t, 'PUT', B, { body: bindBody({ parameters: { x: 1 } }) })).status, 409, 'I6: different parameters')
  t.equal((await osb(app, t, 'PUT', B, { body: bindBody({ app_guid: 'other-app' }) })).status, 409)
  t.equal((await osb(app, t, 'PUT', B, { body: { plan_id: PLAN_ID } })).status, 400, 'I6: missing service_id')
  t.equal((await osb(app, t, 'PUT', `${I}/i1/service_bindings/b2`, { body: bindBody({ plan_id: 'nope' }) })).status, 400)
  t.equal((await osb(app, t, 'PUT', `${I}/unknown/service_bindings/b2`, { body: bindBody() })).status, 404)
  t.equal((await osb(app, t, 'PUT', `${I}/i1/service_bindings/b2`, { rawBody: '[1,2' })).status, 400)

  const fetched = await osb(app, t, 'GET', B)
  t.equal(fetched.status, 200, 'J: fetch binding')
  t.same(fetched.body.credentials, credentials)
  t.equal((await osb(app, t, 'GET', `${I}/i1/service_bindings/nope`)).status, 404)
  t.equal((await osb(app, t, 'GET', `${I}/other/service_bindings/b1`)).status, 404, 'a binding is found only under its instance')

  const lo = await osb(app, t, 'GET', `${B}/last_operation`)
  t.equal(lo.status, 200)
  t.equal(lo.body.state, 'succeeded')
  t.equal((await osb(app, t, 'GET', `${I}/i1/service_bindings/nope/last_operation`)).status, 404, 'K1: unknown is 404')

  t.equal((await osb(app, t, 'DELETE', `${B}?plan_id=${PLAN_ID}`)).status, 400, 'K3: service_id required')
  t.equal((await osb(app, t, 'DELETE', `${B}?service_id=${SERVICE_ID}`)).status, 400, 'K3: plan_id required')
  t.ok(atlas.users.has('b1'), 'A13: nothing revoked by the 400s')
  const unbound = await osb(app, t, 'DELETE', `${B}?${DELETE_QUERY}`, { headers: { 'content-type': 'application/json' } })
  t.equal(unbound.status, 200)
  t.same(unbound.body, {})
  t.notOk(atlas.users.has('b1'), 'K3: credentials revoked')
  const gone = await osb(app, t, 'DELETE', `${B}?${DELETE_QUERY}`)
  t.equal(gone.status, 410)
  t.same(gone.body, {})
  const tomb = await osb(app, t, 'GET', `${B}/last_operation`)
  t.equal(tomb.status, 200, 'Z6: tombstone answers succeeded')
  t.equal((await osb(app, t, 'GET', B)).status, 404)
})

t.test('Z12: several live bindings per instance, each with its own credentials', async t => {
  const { app, atlas } = await makeApp(t)
  await osb(app, t, 'PUT', `${I}/z12`, { body: provisionBody() })
  const a = await osb(app, t, 'PUT', `${I}/z12/service_bindings/old`, { body: bindBody() })
  const b = await osb(app, t, 'PUT', `${I}/z12/service_bindings/new`, { body: bindBody() })
  t.not((a.body.credentials as Record<string, unknown>).password, (b.body.credentials as Record<string, unknown>).password)
  await osb(app, t, 'DELETE', `${I}/z12/service_bindings/old?${DELETE_QUERY}`)
  t.ok(atlas.users.has('new'))
  t.notOk(atlas.users.has('old'))
})

t.test('A13: Atlas failures are clear 5xx bodies and leave nothing behind', async t => {
  const { app, atlas, storage } = await makeApp(t)
  await osb(app, t, 'PUT', `${I}/f`, { body: provisionBody() })
  const { AtlasUnavailableError } = await import('../../../src/ports/atlas-port.js')
  atlas.failNext('createDatabaseUser', new AtlasUnavailableError('503 from Atlas', { status: 503 }))
  const r = await osb(app, t, 'PUT', `${I}/f/service_bindings/fb`, { body: bindBody() })
  t.equal(r.status, 503)
  t.match(r.body.description, /Atlas/)
  t.equal(await storage.getBinding('fb'), undefined)
  t.equal(atlas.users.size, 0)
  t.equal(r.raw.includes(AUTH), false)
})

t.test('I11: binding rotation over HTTP: plans say binding_rotatable; predecessor_binding_id gives new credentials', async t => {
  const { app, atlas } = await makeApp(t)
  const catalog = await osb(app, t, 'GET', '/v2/catalog')
  const plans = (catalog.body.services as Array<{ plans: Array<{ binding_rotatable?: boolean }> }>)[0]!.plans
  t.ok(plans.every(p => p.binding_rotatable === true), 'every plan allows rotation')
  await osb(app, t, 'PUT', `${I}/rot`, { body: provisionBody() })
  const old = await osb(app, t, 'PUT', `${I}/rot/service_bindings/old`, { body: bindBody() })
  const rotated = await osb(app, t, 'PUT', `${I}/rot/service_bindings/new`, { body: bindBody({ predecessor_binding_id: 'old' }) })
  t.equal(rotated.status, 201)
  t.not((rotated.body.credentials as { password: string }).password, (old.body.credentials as { password: string }).password)
  t.ok(atlas.users.has('old') && atlas.users.has('new'))
  const wrong = await osb(app, t, 'PUT', `${I}/rot/service_bindings/other`, { body: bindBody({ predecessor_binding_id: 'nope' }) })
  t.equal(wrong.status, 400)
  t.match(wrong.body.description, /predecessor_binding_id nope is not a binding of instance rot/)
})

/**
 * Real OSB clients: the Kubernetes Service Catalog's Go client decodes `endpoints[].ports` as integers, so bind
 * answers leave `endpoints` out for Kubernetes platforms unless configured (BINDING_ENDPOINTS).
 */
import t from 'tap'
import { bindBody, headers, makeApp, provisionBody } from '../../helpers/broker.js'
import { decodeBindResponse } from '../../helpers/go-osb-client.js'
import { osbProblems } from '../../helpers/osb-spec.js'

const I = '/v2/service_instances'
const kubernetes = { platform: 'kubernetes', namespace: 'team-a', clusterid: 'k8s-1', instance_name: 'db' }

t.test('the strict decoder refuses the spec\'s string ports, as the Go client does', async t => {
  t.throws(() => decodeBindResponse({ credentials: {}, endpoints: [{ host: 'h', ports: ['27017'] }] }), /cannot unmarshal/)
  t.doesNotThrow(() => decodeBindResponse({ credentials: {}, endpoints: [{ host: 'h', ports: [27017] }] }))
})

t.test('auto (default): a Kubernetes bind and fetch carry no endpoints and decode; other platforms keep them', async t => {
  const { app } = await makeApp(t)
  await app.inject({ method: 'PUT', url: `${I}/i`, headers: headers(), payload: JSON.stringify(provisionBody({ context: kubernetes })) })
  const bound = await app.inject({ method: 'PUT', url: `${I}/i/service_bindings/k`, headers: headers(), payload: JSON.stringify(bindBody({ context: kubernetes })) })
  t.equal(bound.statusCode, 201)
  t.equal(bound.json().endpoints, undefined)
  t.doesNotThrow(() => decodeBindResponse(bound.json()), 'the Service Catalog client decodes it')
  t.same(osbProblems('PUT', '/v2/service_instances/{instance_id}/service_bindings/{binding_id}', 201, bound.json()), [], 'and it is a valid OSB answer')
  const fetched = await app.inject({ method: 'GET', url: `${I}/i/service_bindings/k`, headers: headers() })
  t.equal(fetched.statusCode, 200)
  t.equal(fetched.json().endpoints, undefined, 'fetch follows the binding\'s platform')
  t.doesNotThrow(() => decodeBindResponse(fetched.json()))
  const cf = await app.inject({ method: 'PUT', url: `${I}/i/service_bindings/c`, headers: headers(), payload: JSON.stringify(bindBody({ context: { platform: 'cloudfoundry' } })) })
  t.match(cf.json().endpoints, [{ host: /mongodb\.net$/, ports: ['27017'], protocol: 'tcp' }], 'Cloud Foundry keeps the spec\'s endpoints')
})

t.test('always and never override the platform', async t => {
  const always = await makeApp(t, { settings: { bindingEndpoints: 'always' } })
  await always.app.inject({ method: 'PUT', url: `${I}/i`, headers: headers(), payload: JSON.stringify(provisionBody()) })
  const k = await always.app.inject({ method: 'PUT', url: `${I}/i/service_bindings/k`, headers: headers(), payload: JSON.stringify(bindBody({ context: kubernetes })) })
  t.ok(Array.isArray(k.json().endpoints), 'always: sent even to Kubernetes')
  const never = await makeApp(t, { settings: { bindingEndpoints: 'never' } })
  await never.app.inject({ method: 'PUT', url: `${I}/i`, headers: headers(), payload: JSON.stringify(provisionBody()) })
  const c = await never.app.inject({ method: 'PUT', url: `${I}/i/service_bindings/c`, headers: headers(), payload: JSON.stringify(bindBody({ context: { platform: 'cloudfoundry' } })) })
  t.equal(c.json().endpoints, undefined, 'never: not even to Cloud Foundry')
})

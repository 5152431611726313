/** Catalog validation at start-up and plan resolution. */
import t from 'tap'
import { defaultCatalog, SEED_PLAN_ID, SEED_SERVICE_ID } from '../../src/app/default-catalog.js'
import { type BrokerCatalog, resolvePlan, servedCatalog, validateCatalog } from '../../src/domain/catalog.js'
import { BadRequestError } from '../../src/ports/service-broker.js'

t.test('the default catalog is valid and keeps the seed ids and names', async t => {
  t.same(validateCatalog(defaultCatalog), [])
  const service = defaultCatalog.services[0]!
  t.equal(service.id, SEED_SERVICE_ID)
  t.equal(service.id, '2a04f349-4aab-4fcb-af6d-8e1749a77c13')
  t.equal(service.name, 'atlas-mongodb-cluster')
  t.equal(service.plans[0]!.id, SEED_PLAN_ID)
  t.equal(service.plans[0]!.id, '8db474d1-3cc0-4f4d-b864-24e3bd49b874')
  t.equal(service.plans[0]!.name, 'atlas-mongodb-existing-cluster')
  t.notOk(JSON.stringify(servedCatalog(defaultCatalog)).includes('"atlas":'))
})

t.test('B5/B7/B9/B11/Z10: every catalog problem is found', async t => {
  const bad: BrokerCatalog = {
    services: [
      { id: 'dup', name: 'Bad Name', description: '', bindable: true, plans: [
        { id: 'dup', name: 'p', description: 'x', atlas: { kind: 'shared-cluster' }, maintenance_info: { version: 'v1' } },
        { id: 'p2', name: 'p', description: 'x', atlas: { kind: 'nope' as 'shared-cluster' }, schemas: { service_instance: { create: { parameters: { type: 'object', properties: { a: { $ref: 'http://x/y' } } } } } } }
      ] },
      { id: 's2', name: 'Bad Name', description: 'x', bindable: true, plans: [] }
    ]
  }
  const problems = validateCatalog(bad).join('\n')
  for (const expected of [/id dup is already used/, /name must match/, /description is required/, /name is not unique in its service/,
    /maintenance_info.version must be SemVer/, /atlas.kind/, /needs \$schema/, /external \$ref/, /needs at least one plan/, /name is not unique/]) {
    t.match(problems, expected)
  }
})

t.test('resolvePlan: unknown ids and foreign plans are 400', async t => {
  t.equal(resolvePlan(defaultCatalog, SEED_SERVICE_ID, SEED_PLAN_ID).plan.id, SEED_PLAN_ID)
  t.throws(() => resolvePlan(defaultCatalog, 'x', SEED_PLAN_ID), BadRequestError)
  t.throws(() => resolvePlan(defaultCatalog, SEED_SERVICE_ID, 'x'), BadRequestError)
})

/**
 * Expiring credentials (OSB I7/I8): a lifetime from the bind's `expiresInHours` or the plan's setting makes the
 * binding's Atlas user temporary (deleteAfterDate) and is answered as metadata.expires_at and renew_before; once
 * expired, fetch is 404, a repeated bind says why, unbind succeeds.
 */
import t from 'tap'
import { defaultCatalog } from '../../src/app/default-catalog.js'
import { type BindDetails, type ProvisionDetails, BadRequestError, BindingNotFoundError } from '../../src/ports/service-broker.js'
import { makeBroker, PLAN_ID, SERVICE_ID } from '../helpers/broker.js'

const provision: ProvisionDetails = { serviceId: SERVICE_ID, planId: PLAN_ID, organizationGuid: 'o', spaceGuid: 's', parameters: { database: 'db1' } }
const bind = (parameters: Record<string, unknown> = {}): BindDetails => ({ serviceId: SERVICE_ID, planId: PLAN_ID, parameters })

t.test('I7/I8: expiresInHours makes a temporary Atlas user and answers expires_at and renew_before', async t => {
  let clock = Date.parse('2026-12-01T10:00:00.000Z')
  const { broker, atlas } = makeBroker({ now: () => clock })
  const created: Array<{ deleteAfterDate?: string }> = []
  const original = atlas.createDatabaseUser.bind(atlas)
  atlas.createDatabaseUser = async (spec, options) => { created.push(spec); return await original(spec, options) }
  await broker.provision('i', provision, false, {})
  const spec = await broker.bind('i', 'b', bind({ expiresInHours: 2 }), false, {})
  t.same(spec.metadata, { expires_at: '2026-12-01T12:00:00.000Z', renew_before: '2026-12-01T11:48:00.000Z' })
  t.equal(created[0]?.deleteAfterDate, '2026-12-01T12:00:00Z', 'Atlas deletes the user at expiry')
  const fetched = await broker.getBinding('i', 'b', {})
  t.same(fetched.metadata, spec.metadata, 'fetch answers the same metadata')
  t.same((await broker.bind('i', 'b', bind({ expiresInHours: 2 }), false, {})).metadata, spec.metadata, 'an identical repeat too')

  clock += 2 * 3600_000 + 1
  atlas.users.delete('b') // Atlas deleted the temporary user
  await t.rejects(broker.getBinding('i', 'b', {}), BindingNotFoundError, 'an expired binding is gone for fetch')
  await t.rejects(broker.bind('i', 'b', bind({ expiresInHours: 2 }), false, {}), { statusCode: 422, message: /expired at 2026-12-01T12:00:00.000Z/ }, 'a repeated bind says it expired')
  await broker.unbind('i', 'b', { serviceId: SERVICE_ID, planId: PLAN_ID }, false, {})
  t.pass('unbind of an expired binding succeeds (its user is already gone)')
})

t.test('a plan can set the lifetime; a bind asking for more than Atlas allows is a 400 that creates nothing', async t => {
  const catalog = structuredClone(defaultCatalog)
  catalog.services[0]!.plans[0]!.atlas = { kind: 'shared-cluster', bindingLifetimeHours: 24 }
  const now = Date.parse('2026-12-01T10:00:00.000Z')
  const { broker, atlas } = makeBroker({ catalog, now: () => now })
  await broker.provision('i', provision, false, {})
  t.equal((await broker.bind('i', 'p', bind(), false, {})).metadata?.expires_at, '2026-12-02T10:00:00.000Z', 'the plan\'s 24 hours')
  for (const hours of [0, 169, 1.5, 'soon']) {
    await t.rejects(broker.bind('i', `bad-${String(hours)}`, bind({ expiresInHours: hours }), false, {}), BadRequestError, String(hours))
  }
  t.equal(atlas.users.size, 1)
})

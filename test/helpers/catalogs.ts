/** Catalogs tests serve through CATALOG_FILE: the built-in one with extra plans, written to a temporary file. */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { defaultCatalog, DEDICATED_PLAN_IDS } from '../../src/app/default-catalog.js'
import type { BrokerCatalog, BrokerPlan } from '../../src/domain/catalog.js'

export const OWN_PROJECT_PLAN_ID = '7a1c2e3f-0000-4000-8000-0000000000e1'

/**
 * The built-in catalog plus `flex-own-project`: the flex plan, each instance in an Atlas project of its own in
 * the organisation given, made with the credentials named `org`. Returns the added plan too.
 */
export function withOwnProjectPlan (organizationId: string): { catalog: BrokerCatalog, plan: BrokerPlan } {
  const catalog = structuredClone(defaultCatalog)
  const flex = catalog.services[0]!.plans.find(p => p.id === DEDICATED_PLAN_IDS.flex)!
  const plan: BrokerPlan = {
    ...structuredClone(flex), id: OWN_PROJECT_PLAN_ID, name: 'flex-own-project',
    atlas: { ...structuredClone(flex.atlas), projectPerInstance: { organizationId, credentials: 'org' } } as BrokerPlan['atlas']
  }
  catalog.services[0]!.plans.push(plan)
  return { catalog, plan }
}

/** Writes `catalog` to a new temporary file and returns its path (for CATALOG_FILE). */
export function catalogFile (catalog: unknown, prefix: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), `${prefix}-`)), 'catalog.json')
  writeFileSync(file, JSON.stringify(catalog))
  return file
}

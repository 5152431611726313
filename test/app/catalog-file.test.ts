/** CATALOG_FILE: an operator's catalog replaces the built-in one, validated at start-up. */
import t from 'tap'
import { loadCatalog } from '../../src/app/compose.js'
import { ConfigError, loadConfig } from '../../src/app/config.js'
import { defaultCatalog } from '../../src/app/default-catalog.js'

t.test('a valid operator catalog is served instead of the default', async t => {
  const custom = structuredClone(defaultCatalog)
  custom.services[0]!.plans = custom.services[0]!.plans.filter(p => p.name === 'm10' || p.name === 'atlas-mongodb-existing-cluster')
  const catalog = loadCatalog(loadConfig({ LOCAL_MODE: 'true', CATALOG_FILE: '/etc/catalog.json' }), () => JSON.stringify(custom))
  t.same(catalog.services[0]!.plans.map(p => p.name), ['atlas-mongodb-existing-cluster', 'm10'])
})

t.test('an invalid catalog stops start-up naming every problem', async t => {
  const broken = structuredClone(defaultCatalog)
  broken.services[0]!.plans[1]!.id = broken.services[0]!.plans[0]!.id
  broken.services[0]!.plans[2]!.name = 'Not Friendly'
  const err = (() => { try { loadCatalog(loadConfig({ LOCAL_MODE: 'true', CATALOG_FILE: '/c.json' }), () => JSON.stringify(broken)) } catch (e) { return e } return undefined })()
  t.type(err, ConfigError)
  t.match((err as Error).message, /already used/)
  t.match((err as Error).message, /name must match/)
  t.throws(() => loadCatalog(loadConfig({ LOCAL_MODE: 'true', CATALOG_FILE: '/c.json' }), () => '{'), /CATALOG_FILE/)
})

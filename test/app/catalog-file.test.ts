/**
 * CATALOG_FILE: an operator's catalog replaces the built-in one, validated at start-up; the shipped examples
 * load; `atlas-broker catalog --file` round-trips; the JSON Schema for editors is current.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv } from 'ajv'
import t from 'tap'
import { runCli } from '../../src/app/cli-commands.js'
import { loadCatalog } from '../../src/app/compose.js'
import { ConfigError, loadConfig } from '../../src/app/config.js'
import { defaultCatalog } from '../../src/app/default-catalog.js'
import { servedCatalog } from '../../src/domain/catalog.js'

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

const EXAMPLES = new URL('../../examples/', import.meta.url)
const exampleFiles = readdirSync(EXAMPLES).filter(f => f.endsWith('.json'))
const schema = JSON.parse(readFileSync(new URL('../../schema/catalog.schema.json', import.meta.url), 'utf8')) as object
const ajv = new Ajv({ strict: false, allErrors: true })
const fitsSchema = ajv.compile(schema)

t.test('the JSON Schema of the catalog file is the one generated from the catalog rules (npm run docs:config)', async t => {
  const { catalogSchemaText } = await import('../../scripts/readme-config-table.js')
  t.equal(readFileSync(new URL('../../schema/catalog.schema.json', import.meta.url), 'utf8'), catalogSchemaText())
  t.ok(fitsSchema(defaultCatalog), 'the built-in catalog fits it')
  t.notOk(fitsSchema({ services: [{ ...defaultCatalog.services[0], plans: [{ ...defaultCatalog.services[0]!.plans[1], atlas: { kind: 'dedicated-cluster', clusterKind: 'dedicated', instanceSize: 'M11', providers: ['AWS'], defaultRegion: 'US_EAST_1' } }] }] }), 'a wrong tier does not')
})

for (const file of exampleFiles) {
  t.test(`examples/${file} loads as CATALOG_FILE and fits the schema`, async t => {
    const path = fileURLToPath(new URL(file, EXAMPLES))
    const catalog = loadCatalog(loadConfig({ LOCAL_MODE: 'true', CATALOG_FILE: path }))
    t.ok(catalog.services.length > 0)
    t.ok(fitsSchema(JSON.parse(readFileSync(path, 'utf8'))), JSON.stringify(fitsSchema.errors))
  })
}

t.test('round trip: `atlas-broker catalog --file` prints a file that CATALOG_FILE loads as is', async t => {
  for (const source of [undefined, fileURLToPath(new URL('catalog-dedicated-europe.json', EXAMPLES))]) {
    const out: string[] = []
    const env = { LOCAL_MODE: 'true', ...(source === undefined ? {} : { CATALOG_FILE: source }) }
    t.equal(await runCli(['catalog', '--file'], env, line => out.push(line), () => undefined), 0)
    const dir = mkdtempSync(path.join(tmpdir(), 'catalog-'))
    writeFileSync(path.join(dir, 'catalog.json'), out.join('\n'))
    const reloaded = loadCatalog(loadConfig({ LOCAL_MODE: 'true', CATALOG_FILE: path.join(dir, 'catalog.json') }))
    const original = loadCatalog(loadConfig(env))
    t.same(servedCatalog(reloaded), servedCatalog(original), `${source ?? 'built-in'}: the same catalog is served`)
    t.match(out.join('\n'), /"atlas": \{/, 'with the atlas blocks')
  }
})

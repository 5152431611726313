/**
 * The broker's lists of Atlas instance sizes and regions stay in step with the Atlas API specification's enums
 * (read from a copy beside the checkout; never copied into the project). Skipped, with one line, without it.
 */
import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { INSTANCE_SIZES, REGIONS } from '../../src/domain/atlas-names.js'
import { validateCatalog } from '../../src/domain/catalog.js'
import { defaultCatalog } from '../../src/app/default-catalog.js'

const SPEC = new URL('../../../shared/specs/atlas/v2-broker-subset.json', import.meta.url)

t.test('catalog checks use the lists: unknown tiers and regions are refused by name', async t => {
  const plan = defaultCatalog.services[0]!.plans.find(p => p.atlas.kind === 'dedicated-cluster' && p.atlas.clusterKind === 'dedicated')!
  const withSettings = (atlas: object): typeof defaultCatalog => ({ services: [{ ...defaultCatalog.services[0]!, plans: [{ ...plan, atlas: { ...plan.atlas, ...atlas } as typeof plan.atlas }] }] })
  t.same(validateCatalog(withSettings({})), [], 'the built-in plan is valid')
  t.match(validateCatalog(withSettings({ instanceSize: 'M90', providers: ['AWS', 'AZURE'] })), [/atlas\.instanceSize M90 is not an Atlas tier on AWS/])
  t.same(validateCatalog(withSettings({ instanceSize: 'M90', providers: ['AZURE'], defaultRegion: 'US_EAST_2' })), [], 'M90 exists on Azure')
  t.match(validateCatalog(withSettings({ defaultRegion: 'US_EAST1' })), [/atlas\.defaultRegion US_EAST1 is not an Atlas region of AWS/])
  t.match(validateCatalog(withSettings({ regions: ['US_EAST_1', 'MARS_1'] })), [/atlas\.regions: MARS_1 is not an Atlas region/])
  t.match(validateCatalog({ services: [] }), [/needs at least one service/])
})

if (!existsSync(SPEC)) {
  t.comment(`skipped: the Atlas API specification is not at ${SPEC.pathname}, so the size and region lists cannot be compared with it`)
} else {
  t.test('instance sizes and regions match the Atlas API specification\'s enums', async t => {
    const schemas = (JSON.parse(readFileSync(SPEC, 'utf8')) as { components: { schemas: Record<string, any> } }).components.schemas // eslint-disable-line @typescript-eslint/no-explicit-any
    const sizes = { AWS: 'AWSHardwareSpec20240805', AZURE: 'AzureHardwareSpec20240805', GCP: 'GCPHardwareSpec20240805' } as const
    for (const [provider, schema] of Object.entries(sizes) as Array<[keyof typeof sizes, string]>) {
      t.same([...INSTANCE_SIZES[provider]].sort(), [...(schemas[schema].properties.instanceSize.enum as string[])].sort(), `${provider} sizes`)
    }
    const regions = schemas.CloudRegionConfig20240805.properties.regionName.oneOf as Array<{ title: string, enum: string[] }>
    for (const provider of ['AWS', 'AZURE', 'GCP'] as const) {
      const branch = regions.find(r => r.title.toUpperCase().startsWith(provider))
      t.same([...REGIONS[provider]].sort(), [...(branch?.enum ?? [])].sort(), `${provider} regions`)
    }
  })
}

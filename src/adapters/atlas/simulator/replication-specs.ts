/**
 * Dedicated clusters' `replicationSpecs` as Atlas checks and stores them: within a shard, read-only nodes use
 * the electable size (the spec) and zero-node analytics specs must too (ANALYTICS_INSTANCE_SIZE_MUST_MATCH,
 * which the Terraform provider avoids by dropping them), while analytics nodes may run at their own size
 * (recorded); existing `replicationSpecs[].id`s must be the cluster's own; read-only fields are refused; every
 * spec kind gets its disk (per provider), and answers add the read-only `effective*Specs`.
 */
import { HttpFailure, asArray, asObject, invalidAttribute } from './http.js'
import { hex } from './state.js'
import { UNVERIFIED } from './unverified.js'

export const PROVIDERS = ['AWS', 'AZURE', 'GCP']
const DEDICATED_SIZE = /^(M|R)\d+(_NVME)?(_GEN_2)?$/
/** Default disk per tier (GB), as Atlas sizes new clusters. */
const DISK_GB: Record<string, number> = { M10: 10, M20: 20, M30: 40, M40: 80, M50: 160, M60: 320, M80: 760 }
const READ_ONLY_REGION = ['effectiveElectableSpecs', 'effectiveReadOnlySpecs', 'effectiveAnalyticsSpecs']
const SPEC_KINDS = ['electableSpecs', 'readOnlySpecs', 'analyticsSpecs'] as const

type Spec = Record<string, unknown>

/**
 * Validates written `replicationSpecs` and completes them as Atlas stores them: ids and zones (kept for specs
 * that name their id, or that stand where an existing spec stood), every spec kind with its disk, auto-scaling.
 */
export function normaliseSpecs (written: unknown[], existing: unknown[]): Array<Record<string, unknown>> {
  if (written.length === 0) throw invalidAttribute('replicationSpecs')
  const known = new Map(existing.map(s => [String(asObject(s).id), asObject(s)]))
  return written.map((raw, index) => {
    const spec = asObject(raw)
    if ('zoneId' in spec) throw new HttpFailure(UNVERIFIED.readOnlyField.status, UNVERIFIED.readOnlyField.code, 'Invalid attribute zoneId specified.', ['zoneId'])
    if (spec.id !== undefined && !known.has(String(spec.id))) {
      throw new HttpFailure(UNVERIFIED.unknownSpecId.status, UNVERIFIED.unknownSpecId.code, 'Invalid attribute replicationSpecs.id specified.', ['replicationSpecs.id'])
    }
    const previous = spec.id !== undefined ? known.get(String(spec.id)) : asObject(existing[index])
    const regions = asArray(spec.regionConfigs).map(asObject)
    if (regions.length === 0) throw invalidAttribute('regionConfigs')
    const base = regions.map(r => asObject(r.electableSpecs)).find(e => Number(e.nodeCount ?? 0) > 0)?.instanceSize
    if (typeof base !== 'string' || !DEDICATED_SIZE.test(base)) throw invalidAttribute('instanceSize')
    return {
      id: previous?.id ?? hex(12),
      regionConfigs: regions.map(region => normaliseRegion(region, base)),
      zoneId: previous?.zoneId ?? hex(12),
      zoneName: spec.zoneName ?? previous?.zoneName ?? 'Zone 1'
    }
  })
}

function normaliseRegion (region: Record<string, unknown>, base: string): Record<string, unknown> {
  for (const key of READ_ONLY_REGION) {
    if (key in region) throw new HttpFailure(UNVERIFIED.readOnlyField.status, UNVERIFIED.readOnlyField.code, `Invalid attribute ${key} specified.`, [key])
  }
  const provider = region.providerName
  if (typeof provider !== 'string' || !PROVIDERS.includes(provider) || typeof region.regionName !== 'string') throw invalidAttribute('regionConfigs')
  const priority = region.priority ?? 7
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > 7) throw invalidAttribute('priority')
  const out: Record<string, unknown> = {}
  for (const kind of SPEC_KINDS) {
    const given = region[kind] === undefined ? undefined : asObject(region[kind])
    const size = given?.instanceSize ?? base
    const nodeCount = given?.nodeCount ?? 0
    if (typeof size !== 'string' || !DEDICATED_SIZE.test(size)) throw invalidAttribute(`${kind}.instanceSize`)
    if (typeof nodeCount !== 'number' || !Number.isInteger(nodeCount) || nodeCount < 0) throw invalidAttribute(`${kind}.nodeCount`)
    if (kind === 'readOnlySpecs' && size !== base) {
      throw new HttpFailure(UNVERIFIED.readOnlySizeMismatch.status, UNVERIFIED.readOnlySizeMismatch.code, 'Read-only nodes must use the instance size of the electable nodes.', [size, base])
    }
    if (kind === 'analyticsSpecs' && nodeCount === 0 && size !== base) {
      throw new HttpFailure(400, 'ANALYTICS_INSTANCE_SIZE_MUST_MATCH', 'Analytics specs without nodes must use the instance size of the electable nodes.', [size, base])
    }
    out[kind] = hardware(provider, { ...given, instanceSize: size, nodeCount })
  }
  return {
    analyticsSpecs: out.analyticsSpecs,
    autoScaling: region.autoScaling ?? { compute: { enabled: false, scaleDownEnabled: false }, diskGB: { enabled: false } },
    electableSpecs: out.electableSpecs,
    priority,
    providerName: provider,
    readOnlySpecs: out.readOnlySpecs,
    regionName: region.regionName
  }
}

/** A spec with its disk, as Atlas reports it (AWS: IOPS and volume type; Azure: IOPS and throughput). */
function hardware (provider: string, spec: Spec): Spec {
  const size = String(spec.instanceSize)
  const disk = { diskSizeGB: spec.diskSizeGB ?? DISK_GB[size.replace('_NVME', '')] ?? 10 }
  if (provider === 'AWS') return { diskIOPS: spec.diskIOPS ?? 3000, ...disk, ebsVolumeType: spec.ebsVolumeType ?? 'STANDARD', instanceSize: size, nodeCount: spec.nodeCount }
  if (provider === 'AZURE') return { diskIOPS: spec.diskIOPS ?? 3500, ...disk, diskThroughput: 125, instanceSize: size, nodeCount: spec.nodeCount }
  return { ...disk, instanceSize: size, nodeCount: spec.nodeCount }
}

/** Adds the read-only effective specs Atlas reports beside the configured ones. */
export function withEffectiveSpecs (spec: Record<string, unknown>): Record<string, unknown> {
  return {
    ...spec,
    regionConfigs: asArray(spec.regionConfigs).map(raw => {
      const region = asObject(raw)
      return {
        ...region,
        effectiveAnalyticsSpecs: region.analyticsSpecs,
        effectiveElectableSpecs: region.electableSpecs,
        effectiveReadOnlySpecs: region.readOnlySpecs
      }
    })
  }
}

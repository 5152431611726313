/**
 * Atlas's side of the wire: the JSON shapes the Administration API v2 answers with (only the fields the broker
 * reads), how they map onto the port's types, and the request bodies built from them (a resize's
 * `replicationSpecs`, a user's authentication fields). Pure functions; the adapter does the calls.
 */
import type {
  AccessListEntry, AtlasCluster, ClusterStateName, DatabaseUser, DatabaseUserAuth, OrgProject, Tag
} from '../../ports/atlas-port.js'
import type { DatabaseRole } from '../../ports/storage-port.js'

/** Where Atlas keeps a user: SCRAM users on `admin`, the passwordless ones on `$external` (sent unescaped, as MongoDB's clients do). */
export function authDatabase (auth: DatabaseUserAuth = 'scram'): 'admin' | '$external' {
  return auth === 'scram' ? 'admin' : '$external'
}

/** The user fields that say how it authenticates, as Atlas's CloudDatabaseUser names them. */
export function authFields (auth: DatabaseUserAuth = 'scram'): Record<string, string> {
  if (auth === 'aws-iam') return { awsIAMType: 'ROLE' }
  if (auth === 'x509') return { x509Type: 'MANAGED' }
  if (auth === 'oidc') return { oidcAuthType: 'USER' }
  return {}
}

export interface Paginated<T> {
  results?: T[]
  totalCount?: number
}

interface RawHardware {
  instanceSize?: string
  nodeCount?: number
}

interface RawRegionConfig {
  providerName?: string
  backingProviderName?: string
  regionName?: string
  priority?: number
  electableSpecs?: RawHardware
  readOnlySpecs?: RawHardware
  analyticsSpecs?: RawHardware
  autoScaling?: { compute?: { enabled?: boolean }, diskGB?: { enabled?: boolean } }
  [key: string]: unknown
}

export interface RawCluster {
  name: string
  stateName: ClusterStateName
  mongoDBVersion?: string
  backupEnabled?: boolean
  terminationProtectionEnabled?: boolean
  tags?: Tag[]
  connectionStrings?: {
    standard?: string
    standardSrv?: string
    private?: string
    privateSrv?: string
    privateEndpoint?: Array<{ connectionString?: string, srvConnectionString?: string, srvShardOptimizedConnectionString?: string, endpoints?: Array<{ endpointId?: string }> }>
  }
  replicationSpecs?: Array<{ id?: string, zoneName?: string, regionConfigs?: RawRegionConfig[], [key: string]: unknown }>
  providerSettings?: { backingProviderName?: string, regionName?: string }
}

export interface RawUser {
  username: string
  awsIAMType?: string
  x509Type?: string
  oidcAuthType?: string
  roles?: DatabaseRole[]
  scopes?: Array<{ name: string, type: string }>
  labels?: Tag[]
}

/**
 * The `replicationSpecs` of a resize, built from the cluster as Atlas reports it: every shard keeps its `id`
 * and zone name; electable and read-only nodes move to the target size (Atlas requires them equal within a
 * shard); analytics specs with nodes keep their own size, zero-node ones are dropped (sent at another size they
 * are refused with ANALYTICS_INSTANCE_SIZE_MUST_MATCH); read-only fields (`zoneId`, `effective*Specs`) and the
 * disk details Atlas derives are not sent back; auto-scaling goes along only when it is on, as the Terraform
 * provider does.
 */
export function resizedSpecs (current: RawCluster, instanceSize: string): Array<Record<string, unknown>> {
  return (current.replicationSpecs ?? []).map(spec => ({
    ...(spec.id === undefined ? {} : { id: spec.id }),
    ...(spec.zoneName === undefined ? {} : { zoneName: spec.zoneName }),
    regionConfigs: (spec.regionConfigs ?? []).map(region => {
      const nodes = (specs: RawHardware | undefined): number => specs?.nodeCount ?? 0
      const autoScaling = region.autoScaling
      const scaling = autoScaling?.compute?.enabled === true || autoScaling?.diskGB?.enabled === true
      return {
        providerName: region.providerName,
        ...(region.backingProviderName === undefined ? {} : { backingProviderName: region.backingProviderName }),
        regionName: region.regionName,
        priority: region.priority,
        electableSpecs: { instanceSize, nodeCount: nodes(region.electableSpecs) },
        readOnlySpecs: { instanceSize, nodeCount: nodes(region.readOnlySpecs) },
        ...(nodes(region.analyticsSpecs) > 0 ? { analyticsSpecs: { instanceSize: region.analyticsSpecs?.instanceSize, nodeCount: nodes(region.analyticsSpecs) } } : {}),
        ...(scaling ? { autoScaling } : {})
      }
    })
  }))
}

export function dedicatedView (raw: RawCluster): AtlasCluster {
  const region = raw.replicationSpecs?.[0]?.regionConfigs?.[0]
  return {
    name: raw.name,
    kind: 'dedicated',
    stateName: raw.stateName,
    ...(region?.electableSpecs?.instanceSize === undefined ? {} : { instanceSize: region.electableSpecs.instanceSize }),
    ...(region?.providerName === undefined ? {} : { providerName: region.providerName === 'TENANT' ? region.backingProviderName ?? 'TENANT' : region.providerName }),
    ...(region?.regionName === undefined ? {} : { regionName: region.regionName }),
    ...(raw.mongoDBVersion === undefined ? {} : { mongoDBVersion: raw.mongoDBVersion }),
    ...(raw.backupEnabled === undefined ? {} : { backupEnabled: raw.backupEnabled }),
    terminationProtectionEnabled: raw.terminationProtectionEnabled ?? false,
    tags: raw.tags ?? [],
    connectionStrings: pickConnectionStrings(raw.connectionStrings)
  }
}

export function flexView (raw: RawCluster): AtlasCluster {
  return {
    name: raw.name,
    kind: 'flex',
    stateName: raw.stateName,
    instanceSize: 'FLEX',
    ...(raw.providerSettings?.backingProviderName === undefined ? {} : { providerName: raw.providerSettings.backingProviderName }),
    ...(raw.providerSettings?.regionName === undefined ? {} : { regionName: raw.providerSettings.regionName }),
    ...(raw.mongoDBVersion === undefined ? {} : { mongoDBVersion: raw.mongoDBVersion }),
    terminationProtectionEnabled: raw.terminationProtectionEnabled ?? false,
    tags: raw.tags ?? [],
    connectionStrings: pickConnectionStrings(raw.connectionStrings)
  }
}

/** The connection strings Atlas reports, empty ones left out (Atlas sends `privateEndpoint: []` and blanks while none exist). */
function pickConnectionStrings (raw: RawCluster['connectionStrings']): AtlasCluster['connectionStrings'] {
  const present = (value: string | undefined): value is string => value !== undefined && value !== ''
  const endpoints = (raw?.privateEndpoint ?? []).map(entry => ({
    ...(present(entry.connectionString) ? { connectionString: entry.connectionString } : {}),
    ...(present(entry.srvConnectionString) ? { srvConnectionString: entry.srvConnectionString } : {}),
    ...(present(entry.srvShardOptimizedConnectionString) ? { srvShardOptimizedConnectionString: entry.srvShardOptimizedConnectionString } : {}),
    endpointIds: (entry.endpoints ?? []).map(e => e.endpointId).filter(present)
  })).filter(entry => entry.connectionString !== undefined || entry.srvConnectionString !== undefined)
  return {
    ...(present(raw?.standard) ? { standard: raw.standard } : {}),
    ...(present(raw?.standardSrv) ? { standardSrv: raw.standardSrv } : {}),
    ...(present(raw?.private) ? { private: raw.private } : {}),
    ...(present(raw?.privateSrv) ? { privateSrv: raw.privateSrv } : {}),
    ...(endpoints.length === 0 ? {} : { privateEndpoint: endpoints })
  }
}

export interface RawAccessEntry { cidrBlock?: string, ipAddress?: string, comment?: string }
export interface RawProject { id: string, name: string, tags?: Tag[] }

export function accessEntryView (raw: RawAccessEntry): AccessListEntry {
  return { cidrBlock: raw.cidrBlock ?? `${raw.ipAddress ?? ''}/32`, ...(raw.comment === undefined ? {} : { comment: raw.comment }) }
}

export function projectView (raw: RawProject): OrgProject {
  return { id: raw.id, name: raw.name, tags: raw.tags ?? [] }
}

export function userView (raw: RawUser): DatabaseUser {
  return {
    username: raw.username,
    auth: raw.awsIAMType !== undefined && raw.awsIAMType !== 'NONE'
      ? 'aws-iam'
      : raw.x509Type !== undefined && raw.x509Type !== 'NONE'
        ? 'x509'
        : raw.oidcAuthType !== undefined && raw.oidcAuthType !== 'NONE' ? 'oidc' : 'scram',
    roles: raw.roles ?? [],
    scopes: (raw.scopes ?? []).filter(s => s.type === 'CLUSTER').map(s => s.name),
    labels: raw.labels ?? []
  }
}

/**
 * The broker's catalog: the OSB offerings plus, for each plan, how the broker serves it (`atlas`).
 * Validated once at start-up; `serve()` strips the broker-only settings before the platform sees them.
 */
import {
  type Catalog, type JsonObject, type ServiceOffering, type ServicePlan, BadRequestError
} from '../ports/service-broker.js'
import { INSTANCE_SIZES, REGIONS } from './atlas-names.js'
import type { AtlasTarget } from '../ports/atlas-port.js'
import { type BindingAuthSettings, checkAuthSettings } from './binding-auth.js'
import { type ConnectionSettings, checkConnectionSettings } from './binding-connection.js'

/** One database on an existing Atlas cluster per instance (the seed's plan). Synchronous. */
/** Where a plan's instances live: another Atlas project, reached with named credentials (absent: the configured ones). */
export interface ProjectSettings {
  /** The Atlas project id (24 hexadecimal digits). */
  projectId?: string
  /** The name of a set of credentials (ATLAS_CREDENTIALS_<NAME>_... or ATLAS_CREDENTIALS_FILE). */
  credentials?: string
}

/** The Atlas target of a plan: undefined when it names neither a project nor credentials. */
export function planTarget (settings: ProjectSettings): AtlasTarget | undefined {
  if (settings.projectId === undefined && settings.credentials === undefined) return undefined
  return { ...(settings.projectId === undefined ? {} : { projectId: settings.projectId }), ...(settings.credentials === undefined ? {} : { credentials: settings.credentials }) }
}

/** The plan, or undefined where the catalog no longer has it (a record made under an older catalog). */
export function resolvePlanOrUndefined (catalog: BrokerCatalog, serviceId: string, planId: string): ResolvedPlan | undefined {
  try {
    return resolvePlan(catalog, serviceId, planId)
  } catch {
    return undefined
  }
}

/** Whether two targets are the same project and credentials (undefined: the configured ones). */
export function sameTarget (a: AtlasTarget | undefined, b: AtlasTarget | undefined): boolean {
  return a?.projectId === b?.projectId && a?.credentials === b?.credentials
}

export interface SharedClusterPlanSettings extends BindingAuthSettings, ConnectionSettings, ProjectSettings {
  kind: 'shared-cluster'
  /** Expiring credentials: hours until Atlas deletes a binding's user (1 to 168); a bind may ask for its own. */
  bindingLifetimeHours?: number
}

export const CLOUD_PROVIDERS = ['AWS', 'AZURE', 'GCP'] as const
export type CloudProvider = (typeof CLOUD_PROVIDERS)[number]

/** One Atlas cluster per instance (dedicated tier or flex). Asynchronous: Atlas takes minutes. */
export interface DedicatedClusterPlanSettings extends BindingAuthSettings, ConnectionSettings, ProjectSettings {
  kind: 'dedicated-cluster'
  clusterKind: 'dedicated' | 'flex'
  /** Tier of dedicated clusters (M10, M20, ...); absent for flex. */
  instanceSize?: string
  /** Providers and regions users may choose; the first provider and `defaultRegion` apply when they choose none. */
  providers: CloudProvider[]
  defaultRegion: string
  /** Regions users may choose (Atlas names, e.g. US_EAST_1); absent: any. */
  regions?: string[]
  defaultMongoDBMajorVersion?: string
  defaultBackupEnabled?: boolean
  defaultTerminationProtectionEnabled?: boolean
  /** Expiring credentials: hours until Atlas deletes a binding's user (1 to 168); a bind may ask for its own. */
  bindingLifetimeHours?: number
  /**
   * Each instance gets its own Atlas project, created in this organisation with an organisation key (named
   * credentials, or the configured ones) and deleted with the instance; instances may set `ipAccessList`.
   */
  projectPerInstance?: { organizationId: string, credentials?: string }
}

export type PlanSettings = SharedClusterPlanSettings | DedicatedClusterPlanSettings

export interface BrokerPlan extends ServicePlan {
  atlas: PlanSettings
}

export interface BrokerService extends Omit<ServiceOffering, 'plans'> {
  plans: BrokerPlan[]
}

export interface BrokerCatalog {
  services: BrokerService[]
}

export interface ResolvedPlan {
  service: BrokerService
  plan: BrokerPlan
}

/** Names per checklist Z10: lowercase, CLI-friendly, valid Kubernetes label values. */
const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-.]+)?(?:\+[0-9A-Za-z-.]+)?$/
const MAX_SCHEMA_BYTES = 64 * 1024

/** Returns every problem of the catalog (empty when it is valid). */
export function validateCatalog (catalog: BrokerCatalog): string[] {
  const problems: string[] = []
  const ids = new Map<string, string>()
  const serviceNames = new Set<string>()
  const claimId = (id: string, where: string): void => {
    if (typeof id !== 'string' || id.length === 0) { problems.push(`${where}: id must be a non-empty string`); return }
    const before = ids.get(id)
    if (before !== undefined) problems.push(`${where}: id ${id} is already used by ${before}`)
    else ids.set(id, where)
  }
  if (!Array.isArray(catalog.services)) return ['catalog: services must be an array']
  if (catalog.services.length === 0) return ['catalog: needs at least one service with at least one plan']
  for (const [si, service] of catalog.services.entries()) {
    const where = `service ${service.name ?? `#${si}`}`
    claimId(service.id, where)
    if (!NAME_PATTERN.test(service.name ?? '')) problems.push(`${where}: name must match ${NAME_PATTERN.source}`)
    if (serviceNames.has(service.name)) problems.push(`${where}: name is not unique`)
    serviceNames.add(service.name)
    if (typeof service.description !== 'string' || service.description === '') problems.push(`${where}: description is required`)
    if (typeof service.bindable !== 'boolean') problems.push(`${where}: bindable must be a boolean`)
    if (!Array.isArray(service.plans) || service.plans.length === 0) { problems.push(`${where}: needs at least one plan`); continue }
    const planNames = new Set<string>()
    for (const [pi, plan] of service.plans.entries()) {
      const pwhere = `${where} plan ${plan.name ?? `#${pi}`}`
      claimId(plan.id, pwhere)
      if (!NAME_PATTERN.test(plan.name ?? '')) problems.push(`${pwhere}: name must match ${NAME_PATTERN.source}`)
      if (planNames.has(plan.name)) problems.push(`${pwhere}: name is not unique in its service`)
      planNames.add(plan.name)
      if (typeof plan.description !== 'string' || plan.description === '') problems.push(`${pwhere}: description is required`)
      if (plan.maintenance_info !== undefined && !SEMVER.test(plan.maintenance_info.version ?? '')) {
        problems.push(`${pwhere}: maintenance_info.version must be SemVer 2.0`)
      }
      problems.push(...checkPlanSettings(pwhere, plan.atlas))
      for (const [path, schema] of planSchemas(plan)) problems.push(...checkParameterSchema(`${pwhere} ${path}`, schema))
    }
  }
  return problems
}

function checkPlanSettings (where: string, settings: PlanSettings | undefined): string[] {
  const hours = settings?.bindingLifetimeHours
  if (hours !== undefined && (!Number.isInteger(hours) || hours < 1 || hours > 168)) return [`${where}: atlas.bindingLifetimeHours must be a whole number from 1 to 168 (Atlas keeps temporary users a week at most)`]
  const authProblems = settings === undefined ? [] : [...checkAuthSettings(where, settings), ...checkConnectionSettings(where, settings), ...checkProjectSettings(where, settings)]
  if (authProblems.length > 0) return authProblems
  if (settings?.kind === 'shared-cluster') return []
  if (settings?.kind !== 'dedicated-cluster') return [`${where}: atlas.kind must be shared-cluster or dedicated-cluster`]
  const problems: string[] = []
  if (settings.clusterKind !== 'dedicated' && settings.clusterKind !== 'flex') problems.push(`${where}: atlas.clusterKind must be dedicated or flex`)
  const providersValid = Array.isArray(settings.providers) && settings.providers.length > 0 &&
    settings.providers.every(p => (CLOUD_PROVIDERS as readonly string[]).includes(p))
  if (!providersValid) {
    problems.push(`${where}: atlas.providers must list some of ${CLOUD_PROVIDERS.join(', ')}`)
    return problems
  }
  if (settings.clusterKind === 'dedicated') {
    if (typeof settings.instanceSize !== 'string' || settings.instanceSize === '') problems.push(`${where}: atlas.instanceSize must be an Atlas tier such as M10`)
    else {
      for (const provider of settings.providers) {
        if (!INSTANCE_SIZES[provider].includes(settings.instanceSize)) problems.push(`${where}: atlas.instanceSize ${settings.instanceSize} is not an Atlas tier on ${provider}`)
      }
    }
  }
  const first = settings.providers[0]!
  if (typeof settings.defaultRegion !== 'string' || !REGIONS[first].includes(settings.defaultRegion)) {
    problems.push(`${where}: atlas.defaultRegion ${String(settings.defaultRegion)} is not an Atlas region of ${first} (Atlas names, such as ${REGIONS[first].slice(2, 4).join(' or ')})`)
  }
  for (const region of settings.regions ?? []) {
    if (!settings.providers.some(p => REGIONS[p].includes(region))) problems.push(`${where}: atlas.regions: ${region} is not an Atlas region of ${settings.providers.join(' or ')}`)
  }
  if (settings.regions !== undefined && !settings.regions.includes(settings.defaultRegion)) problems.push(`${where}: atlas.regions must include atlas.defaultRegion`)
  return problems
}

function planSchemas (plan: ServicePlan): Array<[string, JsonObject]> {
  const s = plan.schemas
  const found: Array<[string, JsonObject | undefined]> = [
    ['schemas.service_instance.create', s?.service_instance?.create?.parameters],
    ['schemas.service_instance.update', s?.service_instance?.update?.parameters],
    ['schemas.service_binding.create', s?.service_binding?.create?.parameters]
  ]
  return found.filter((entry): entry is [string, JsonObject] => entry[1] !== undefined)
}

function checkParameterSchema (where: string, schema: JsonObject): string[] {
  const problems: string[] = []
  if (typeof schema.$schema !== 'string') problems.push(`${where}: parameters schema needs $schema`)
  const text = JSON.stringify(schema)
  if (Buffer.byteLength(text) > MAX_SCHEMA_BYTES) problems.push(`${where}: parameters schema is over 64 kB`)
  if (/"\$ref"\s*:\s*"(?!#)/.test(text)) problems.push(`${where}: parameters schema has an external $ref`)
  return problems
}

/** The catalog as the platform sees it (GET /v2/catalog). */
export function servedCatalog (catalog: BrokerCatalog): Catalog {
  return {
    services: catalog.services.map(service => ({
      ...service,
      plans: service.plans.map(({ atlas: _atlas, ...plan }) => plan)
    }))
  }
}

/** Finds the plan of a service; unknown ids or a plan of another service are a 400 (checklist Z3). */
export function resolvePlan (catalog: BrokerCatalog, serviceId: string, planId: string): ResolvedPlan {
  const service = catalog.services.find(s => s.id === serviceId)
  if (service === undefined) throw new BadRequestError(`service_id ${serviceId} is not in the catalog`)
  const plan = service.plans.find(p => p.id === planId)
  if (plan === undefined) {
    const elsewhere = catalog.services.some(s => s.plans.some(p => p.id === planId))
    throw new BadRequestError(elsewhere
      ? `plan_id ${planId} does not belong to service ${service.name} (${serviceId})`
      : `plan_id ${planId} is not in the catalog`)
  }
  return { service, plan }
}

export function isBindable (resolved: ResolvedPlan): boolean {
  return resolved.plan.bindable ?? resolved.service.bindable
}

export function dedicatedSettings (resolved: ResolvedPlan): DedicatedClusterPlanSettings | undefined {
  return resolved.plan.atlas.kind === 'dedicated-cluster' ? resolved.plan.atlas : undefined
}

/** The cluster settings of a record's plan, or undefined when it is not a cluster plan (or not in the catalog). */
export function clusterPlanSettings (catalog: BrokerCatalog, record: { serviceId: string, planId: string }): DedicatedClusterPlanSettings | undefined {
  const resolved = resolvePlanOrUndefined(catalog, record.serviceId, record.planId)
  return resolved === undefined ? undefined : dedicatedSettings(resolved)
}

export function isPlanUpdateable (resolved: ResolvedPlan): boolean {
  return resolved.plan.plan_updateable ?? resolved.service.plan_updateable ?? false
}

function checkProjectSettings (where: string, settings: ProjectSettings & { projectPerInstance?: DedicatedClusterPlanSettings['projectPerInstance'], kind?: string }): string[] {
  const problems: string[] = []
  const own = settings.projectPerInstance
  if (own !== undefined) {
    if (settings.kind !== 'dedicated-cluster') problems.push(`${where}: atlas.projectPerInstance applies only to cluster plans (kind dedicated-cluster)`)
    if (settings.projectId !== undefined || settings.credentials !== undefined) problems.push(`${where}: atlas.projectPerInstance and atlas.projectId/credentials exclude each other (each instance gets its own project)`)
    if (typeof own !== 'object' || own === null || typeof own.organizationId !== 'string' || !/^[0-9a-f]{24}$/.test(own.organizationId)) {
      problems.push(`${where}: atlas.projectPerInstance.organizationId must be an Atlas organisation id (24 hexadecimal digits)`)
    } else if (own.credentials !== undefined && (typeof own.credentials !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/.test(own.credentials))) {
      problems.push(`${where}: atlas.projectPerInstance.credentials must name a set of credentials (letters, digits, - and _)`)
    }
  }
  if (settings.projectId !== undefined && (typeof settings.projectId !== 'string' || !/^[0-9a-f]{24}$/.test(settings.projectId))) {
    problems.push(`${where}: atlas.projectId must be an Atlas project id (24 hexadecimal digits)`)
  }
  if (settings.credentials !== undefined && (typeof settings.credentials !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/.test(settings.credentials))) {
    problems.push(`${where}: atlas.credentials must name a set of credentials (letters, digits, - and _)`)
  }
  return problems
}

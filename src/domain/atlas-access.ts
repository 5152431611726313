/**
 * What the broker needs of its Atlas credentials for the plans it serves, and whether a set of roles grants
 * it: `atlas-broker check` reports each need on its own line, so an operator sees which role is missing
 * before a platform request fails on it.
 */
import type { CredentialRole } from '../ports/atlas-port.js'
import { type BrokerCatalog, dedicatedSettings } from './catalog.js'

export interface AtlasNeed {
  /** What the broker does with it. */
  what: string
  /** The project role Atlas's UI names for it. */
  role: string
  /** Atlas role names that grant it (besides owning the project or its organisation). */
  grantedBy: string[]
}

const USERS: AtlasNeed = { what: 'create and delete database users (every bind)', role: 'Project Database Access Admin', grantedBy: ['GROUP_DATABASE_ACCESS_ADMIN'] }
const CLUSTERS: AtlasNeed = { what: 'create and resize clusters (cluster plans)', role: 'Project Cluster Manager', grantedBy: ['GROUP_CLUSTER_MANAGER'] }
const OWNER: AtlasNeed = { what: 'delete clusters and change termination protection (cluster plans)', role: 'Project Owner', grantedBy: [] }
const CERTIFICATES: AtlasNeed = { what: 'issue X.509 certificates (bindings with auth x509)', role: 'Project Owner', grantedBy: [] }

/** The needs of a catalog: users always; clusters and cluster deletion with cluster plans; certificates with X.509 bindings. */
export function atlasNeeds (catalog: BrokerCatalog): AtlasNeed[] {
  const plans = catalog.services.flatMap(service => service.plans.map(plan => ({ service, plan })))
  const clusterPlans = plans.some(resolved => dedicatedSettings(resolved) !== undefined)
  const x509 = plans.some(({ plan }) => plan.atlas.bindingAuth?.includes('x509') === true)
  return [USERS, ...(clusterPlans ? [CLUSTERS, OWNER] : []), ...(x509 ? [CERTIFICATES] : [])]
}

/** Whether `roles` grant `need` in the project (Project Owner and Organization Owner grant everything). */
export function grants (roles: CredentialRole[], projectId: string, need: AtlasNeed): boolean {
  return roles.some(role => role.roleName === 'ORG_OWNER' ||
    (role.groupId === projectId && (role.roleName === 'GROUP_OWNER' || need.grantedBy.includes(role.roleName))))
}

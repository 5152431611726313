/**
 * The API root (`GET /api/atlas/v2`: the caller's API key with its roles and access list, as the spec's
 * SystemStatus) and a project (`/groups/{id}`, 2023-01-01) in the recorded shape; `SimProject` is one project
 * with what it holds (clusters, users) and its routes.
 */
import type { SimAuth } from './auth.js'
import { type RouteContext, type Routed, VERSIONS } from './http.js'
import { AccessListRoutes } from './access-list.js'
import { ClusterRoutes } from './clusters.js'
import { SimState, type SimulatorDelays } from './state.js'
import { UserRoutes } from './users.js'

export interface ProjectIdentity {
  projectId: string
  projectName: string
  orgId: string
  apiKeyId: string
  linkBase: string
}

export class ProjectRoutes {
  private readonly state: SimState
  private readonly auth: SimAuth
  private readonly project: ProjectIdentity

  private readonly tags: Array<{ key: string, value: string }>

  constructor (state: SimState, auth: SimAuth, project: ProjectIdentity, tags: Array<{ key: string, value: string }> = []) {
    this.state = state
    this.auth = auth
    this.project = project
    this.tags = tags
  }

  /** `GET /api/atlas/v2`. Service accounts are no API key: `apiKey` is null for them (unverified: UNVERIFIED.rootForServiceAccount). */
  root (ctx: RouteContext, bearer: boolean, caller: string): Routed {
    const v = ctx.accept(VERSIONS.v20230101)
    const { options } = this.auth
    const other = this.auth.keyOf(caller)
    const apiKey = bearer
      ? null
      : other !== undefined
        ? {
            accessList: [], id: `key-${other.publicKey}`, publicKey: other.publicKey,
            // Organisation grants ('*') are listed with the organisation, project grants with their project.
            roles: other.roles.map(r => r.groupId === '*' ? { orgId: this.project.orgId, roleName: r.roleName } : r)
          }
        : {
          accessList: (options.accessList ?? []).map(entry => entry.includes('/') ? { cidrBlock: entry } : { ipAddress: entry }),
          id: this.project.apiKeyId,
          publicKey: options.publicKey,
          roles: options.roles.map(roleName => roleName.startsWith('ORG_') ? { orgId: this.project.orgId, roleName } : { groupId: this.project.projectId, roleName })
        }
    return ctx.ok(200, { apiKey, appName: 'MongoDB Atlas', build: '83be55e140f493c88e7f578aae96548dd881587b', links: [], throttling: false }, v)
  }

  /** `GET /groups/{id}` (the project itself). */
  get (ctx: RouteContext): Routed {
    const v = ctx.accept(VERSIONS.v20230101)
    this.auth.requirePermission('read')
    return ctx.ok(200, this.view(), v)
  }

  view (): Record<string, unknown> {
    const self = `${this.project.linkBase}/api/atlas/v2/groups/${this.project.projectId}`
    return {
      clusterCount: this.state.clusters.size,
      created: '2026-01-01T00:00:00Z',
      id: this.project.projectId,
      links: [
        { href: self, rel: 'self' },
        ...['containers', 'clusters', 'databaseUsers', 'peers', 'processes', 'whitelist'].map(r => ({ href: `${self}/${r}`, rel: `https://cloud.mongodb.com/${r}` }))
      ],
      name: this.project.projectName,
      orgId: this.project.orgId,
      tags: this.tags,
      withDefaultAlertsSettings: true
    }
  }
}

/** One simulated project: what it holds and the routes that serve it. */
export class SimProject {
  readonly id: string
  readonly name: string
  readonly state: SimState
  readonly routes: ProjectRoutes
  readonly clusters: ClusterRoutes
  readonly users: UserRoutes
  readonly accessList: AccessListRoutes
  readonly tags: Array<{ key: string, value: string }>

  constructor (
    identity: ProjectIdentity, auth: SimAuth, delays: SimulatorDelays,
    limits: { maxClusters: () => number, maxDatabaseUsers: number, oidcProviders: string[] }, tags: Array<{ key: string, value: string }> = []
  ) {
    this.id = identity.projectId
    this.name = identity.projectName
    this.tags = tags
    this.accessList = new AccessListRoutes(auth, { projectId: this.id, linkBase: identity.linkBase }, () => delays.accessListMs ?? 0)
    this.state = new SimState(delays)
    this.routes = new ProjectRoutes(this.state, auth, identity, tags)
    this.clusters = new ClusterRoutes(this.state, auth, { projectId: this.id, linkBase: identity.linkBase, maxClusters: limits.maxClusters })
    this.users = new UserRoutes(this.state, auth, { projectId: this.id, linkBase: identity.linkBase, maxDatabaseUsers: limits.maxDatabaseUsers, oidcProviders: limits.oidcProviders })
  }
}

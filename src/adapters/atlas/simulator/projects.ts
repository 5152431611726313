/**
 * The API root (`GET /api/atlas/v2`: the caller's API key with its roles and access list, as the spec's
 * SystemStatus) and the project (`/groups`, 2023-01-01) in the recorded shape.
 */
import { type SimAuth } from './auth.js'
import { HttpFailure, type RouteContext, type Routed, VERSIONS, page } from './http.js'
import { type SimState } from './state.js'

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

  constructor (state: SimState, auth: SimAuth, project: ProjectIdentity) {
    this.state = state
    this.auth = auth
    this.project = project
  }

  /** `GET /api/atlas/v2`. Service accounts are no API key: `apiKey` is null for them (unverified: UNVERIFIED.rootForServiceAccount). */
  root (ctx: RouteContext, bearer: boolean): Routed {
    const v = ctx.accept(VERSIONS.v20230101)
    const { options } = this.auth
    const apiKey = bearer
      ? null
      : {
          accessList: (options.accessList ?? []).map(entry => entry.includes('/') ? { cidrBlock: entry } : { ipAddress: entry }),
          id: this.project.apiKeyId,
          publicKey: options.publicKey,
          roles: options.roles.map(roleName => roleName.startsWith('ORG_') ? { orgId: this.project.orgId, roleName } : { groupId: this.project.projectId, roleName })
        }
    return ctx.ok(200, { apiKey, appName: 'MongoDB Atlas', build: '83be55e140f493c88e7f578aae96548dd881587b', links: [], throttling: false }, v)
  }

  /** `/groups...` up to the project itself; undefined for its sub-resources. */
  groups (ctx: RouteContext, segments: string[]): Routed | undefined {
    if (segments.length === 1 && ctx.method === 'GET') {
      const v = ctx.accept(VERSIONS.v20230101)
      this.auth.requirePermission('read')
      return ctx.ok(200, page(ctx.url, [this.view()], this.project.linkBase), v)
    }
    if (segments[1] === 'byName' && segments.length === 3 && ctx.method === 'GET') {
      const v = ctx.accept(VERSIONS.v20230101)
      if (segments[2] !== this.project.projectName) throw new HttpFailure(404, 'GROUP_NAME_NOT_FOUND', `No group with name "${segments[2]}" exists.`, [segments[2]])
      return ctx.ok(200, this.view(), v)
    }
    this.requireProject(segments[1] ?? '')
    if (segments.length === 2 && ctx.method === 'GET') {
      const v = ctx.accept(VERSIONS.v20230101)
      this.auth.requirePermission('read')
      return ctx.ok(200, this.view(), v)
    }
    return undefined
  }

  /** 400 INVALID_GROUP_ID for a malformed id, 404 GROUP_NOT_FOUND for another project (as recorded). */
  requireProject (groupId: string): void {
    if (!/^[a-f0-9]{24}$/.test(groupId)) throw new HttpFailure(400, 'INVALID_GROUP_ID', `An invalid group ID ${groupId} was specified.`, [groupId])
    if (groupId !== this.project.projectId) throw new HttpFailure(404, 'GROUP_NOT_FOUND', `No group with ID ${groupId} exists.`, [groupId])
  }

  private view (): Record<string, unknown> {
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
      tags: [],
      withDefaultAlertsSettings: true
    }
  }
}

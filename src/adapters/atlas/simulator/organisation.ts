/**
 * The organisation (`/groups`, 2023-01-01): its projects listed and found by name as the caller may see them,
 * created by organisation keys (unique names, tags kept), deleted when they hold no cluster, and each request
 * under `/groups/{id}` routed into its project. Shapes and codes as recorded (see ./unverified.ts for the guesses).
 */
import type { SimAuth } from './auth.js'
import { HttpFailure, type RouteContext, type Routed, VERSIONS, asObject, page } from './http.js'
import { SimProject } from './projects.js'
import { type SimulatorDelays, hex } from './state.js'
import { UNVERIFIED } from './unverified.js'

type Limits = ConstructorParameters<typeof SimProject>[3]

export class Organisation {
  readonly id: string
  /** Every project, by id; the configured one first. */
  readonly projects = new Map<string, SimProject>()
  readonly primary: SimProject
  private readonly auth: SimAuth
  private readonly delays: SimulatorDelays
  private readonly limits: Limits
  private readonly linkBase: string

  constructor (id: string, auth: SimAuth, delays: SimulatorDelays, limits: Limits, first: { projectId: string, projectName: string }, linkBase: string) {
    this.id = id
    this.auth = auth
    this.delays = delays
    this.limits = limits
    this.linkBase = linkBase
    this.primary = this.newProject(first.projectId, first.projectName)
  }

  newProject (projectId: string, projectName: string, tags: Array<{ key: string, value: string }> = []): SimProject {
    const project = new SimProject({ projectId, projectName, orgId: this.id, apiKeyId: hex(12), linkBase: this.linkBase }, this.auth, this.delays, this.limits, tags)
    this.projects.set(projectId, project)
    return project
  }

  /** The project with that id (default: the configured one); throws for an unknown id. */
  tenant (projectId?: string): SimProject {
    const project = projectId === undefined ? this.primary : this.projects.get(projectId)
    if (project === undefined) throw new Error(`the simulator has no project ${projectId ?? ''}`)
    return project
  }

  /** `/groups...`; `segments` start with `groups`. */
  route (context: (rest: string[]) => RouteContext, segments: string[], caller: string, url: URL): Routed {
    const ctx0 = context([])
    const { method } = ctx0
    if (segments.length === 1 && method === 'GET') {
      const v = ctx0.accept(VERSIONS.v20230101)
      const visible = [...this.projects.values()].filter(p => this.auth.canSee(caller, p.id))
      return ctx0.ok(200, page(url, visible, this.linkBase, p => p.routes.view()), v)
    }
    if (segments.length === 1 && method === 'POST') return this.create(ctx0)
    if (segments[1] === 'byName' && segments.length === 3 && method === 'GET') {
      const v = ctx0.accept(VERSIONS.v20230101)
      const found = [...this.projects.values()].find(p => p.name === segments[2] && this.auth.canSee(caller, p.id))
      if (found === undefined) throw new HttpFailure(404, 'GROUP_NAME_NOT_FOUND', `No group with name "${segments[2]}" exists.`, [segments[2]])
      return ctx0.ok(200, found.routes.view(), v)
    }
    // 400 INVALID_GROUP_ID for a malformed id, 404 GROUP_NOT_FOUND for a project that is not there (as recorded).
    const groupId = segments[1] ?? ''
    if (!/^[a-f0-9]{24}$/.test(groupId)) throw new HttpFailure(400, 'INVALID_GROUP_ID', `An invalid group ID ${groupId} was specified.`, [groupId])
    const project = this.projects.get(groupId)
    if (project === undefined) throw new HttpFailure(404, 'GROUP_NOT_FOUND', `No group with ID ${groupId} exists.`, [groupId])
    this.auth.serve(caller, project.id)
    if (segments.length === 2 && method === 'GET') return project.routes.get(ctx0)
    if (segments.length === 2 && method === 'DELETE') return this.delete(ctx0, project)
    const ctx = context(segments.slice(3))
    const routed = segments[2] === 'clusters'
      ? project.clusters.clusters(ctx)
      : segments[2] === 'flexClusters'
        ? project.clusters.flexClusters(ctx)
        : segments[2] === 'databaseUsers'
          ? project.users.route(ctx)
          : segments[2] === 'accessList' ? project.accessList.route(ctx) : undefined
    if (routed === undefined) throw new HttpFailure(404, 'RESOURCE_NOT_FOUND', `Cannot find resource ${url.pathname}.`, [url.pathname])
    return routed
  }

  /** `POST /groups`: a new project in the organisation (organisation keys only), named uniquely, with its tags. */
  private create (ctx: RouteContext): Routed {
    const v = ctx.accept(VERSIONS.v20230101)
    this.auth.requirePermission('org')
    const b = asObject(ctx.body)
    if (typeof b.name !== 'string' || !/^[\w .()-]{1,64}$/.test(b.name)) throw new HttpFailure(400, 'INVALID_ATTRIBUTE', 'Invalid attribute name specified.', ['name'])
    if (b.orgId !== this.id) throw new HttpFailure(UNVERIFIED.orgNotFound.status, UNVERIFIED.orgNotFound.code, `No organization with ID ${String(b.orgId)} exists.`, [String(b.orgId)])
    if ([...this.projects.values()].some(p => p.name === b.name)) {
      throw new HttpFailure(UNVERIFIED.projectExists.status, UNVERIFIED.projectExists.code, `A group with name "${b.name}" already exists.`, [b.name])
    }
    const tags = Array.isArray(b.tags) ? (b.tags as Array<{ key: string, value: string }>).map(t => ({ key: String(t.key), value: String(t.value) })) : []
    return ctx.ok(201, this.newProject(hex(12), b.name, tags).routes.view(), v)
  }

  /** `DELETE /groups/{id}`: refused while the project has clusters (deleting ones included). */
  private delete (ctx: RouteContext, project: SimProject): Routed {
    const v = ctx.accept(VERSIONS.v20230101)
    this.auth.requirePermission('owner')
    if (project.state.clusters.size > 0) {
      throw new HttpFailure(UNVERIFIED.projectNotEmpty.status, UNVERIFIED.projectNotEmpty.code, 'There are active clusters in this project.', [])
    }
    if (project === this.primary) throw new HttpFailure(400, 'INVALID_ATTRIBUTE', 'The simulator keeps its configured project.', [])
    this.projects.delete(project.id)
    return ctx.ok(204, undefined, v)
  }
}

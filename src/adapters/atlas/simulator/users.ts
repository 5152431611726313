/**
 * Database users (`/groups/{id}/databaseUsers`, 2023-01-01), in the recorded shape: SCRAM users on `admin`,
 * roles, cluster scopes, labels; each change PENDING on the clusters it reaches until propagated. Errors as
 * recorded by MongoDB's clients: GET of a missing user `USERNAME_NOT_FOUND`, DELETE `USER_NOT_FOUND`,
 * a duplicate `USER_ALREADY_EXISTS`.
 */
import { type SimAuth } from './auth.js'
import { HttpFailure, type RouteContext, type Routed, VERSIONS, asObject, invalidAttribute, page } from './http.js'
import { type SimState, type SimUser } from './state.js'
import { UNVERIFIED } from './unverified.js'

export class UserRoutes {
  private readonly state: SimState
  private readonly auth: SimAuth
  private readonly projectId: string
  private readonly linkBase: string
  maxDatabaseUsers: number

  constructor (state: SimState, auth: SimAuth, project: { projectId: string, linkBase: string, maxDatabaseUsers: number }) {
    this.state = state
    this.auth = auth
    this.projectId = project.projectId
    this.linkBase = project.linkBase
    this.maxDatabaseUsers = project.maxDatabaseUsers
  }

  route (ctx: RouteContext): Routed | undefined {
    const { method, rest } = ctx
    const v = ctx.accept(VERSIONS.v20230101)
    this.auth.requirePermission(method === 'GET' ? 'read' : 'users')
    if (rest.length === 0 && method === 'GET') return ctx.ok(200, page(ctx.url, [...this.state.users.values()], this.linkBase, u => this.view(u)), v)
    if (rest.length === 0 && method === 'POST') return ctx.ok(201, this.view(this.create(ctx.body)), v)
    if (rest.length !== 2) return undefined
    const [db, username] = rest as [string, string]
    const key = `${db}/${username}`
    const user = this.state.users.get(key)
    if (user === undefined) {
      if (method === 'DELETE') throw new HttpFailure(404, 'USER_NOT_FOUND', `No user with username ${username} exists.`, [username])
      if (method === 'PATCH') throw new HttpFailure(UNVERIFIED.patchMissingUser.status, UNVERIFIED.patchMissingUser.code, `No user with username ${username} exists.`, [username])
      throw new HttpFailure(404, 'USERNAME_NOT_FOUND', `No user with username ${username} exists.`, [username])
    }
    if (method === 'GET') return ctx.ok(200, this.view(user), v)
    if (method === 'PATCH') return ctx.ok(200, this.view(this.update(user, ctx.body)), v)
    if (method === 'DELETE') {
      this.state.users.delete(key)
      this.state.markPending(user.scopes)
      return ctx.ok(204, undefined, v)
    }
    return undefined
  }

  private create (body: unknown): SimUser {
    const b = asObject(body)
    for (const field of ['databaseName', 'groupId', 'roles', 'username']) {
      if (b[field] === undefined) throw new HttpFailure(400, 'MISSING_ATTRIBUTE', `The required attribute ${field} was not specified.`, [field])
    }
    if (b.groupId !== this.projectId) throw invalidAttribute('groupId')
    const user = check({
      username: String(b.username),
      databaseName: String(b.databaseName),
      password: typeof b.password === 'string' ? b.password : '',
      roles: b.roles as Array<Record<string, unknown>>,
      scopes: (b.scopes ?? []) as Array<{ name: string, type: string }>,
      labels: (b.labels ?? []) as Array<{ key: string, value: string }>,
      ...(typeof b.description === 'string' ? { description: b.description } : {}),
      ...(b.deleteAfterDate === undefined ? {} : { deleteAfter: deleteAfter(b.deleteAfterDate) })
    })
    const key = `${user.databaseName}/${user.username}`
    if (this.state.users.has(key)) throw new HttpFailure(409, 'USER_ALREADY_EXISTS', `The specified user ${user.username} already exists.`, [user.username])
    if (this.state.users.size >= this.maxDatabaseUsers) {
      throw new HttpFailure(UNVERIFIED.userLimit.status, UNVERIFIED.userLimit.code, `Projects are limited to ${this.maxDatabaseUsers} database users.`, [this.maxDatabaseUsers])
    }
    this.state.users.set(key, user)
    this.state.markPending(user.scopes)
    return user
  }

  private update (user: SimUser, body: unknown): SimUser {
    const b = asObject(body)
    const next = check({
      ...user,
      ...(typeof b.password === 'string' ? { password: b.password } : {}),
      ...(Array.isArray(b.roles) ? { roles: b.roles as Array<Record<string, unknown>> } : {}),
      ...(Array.isArray(b.scopes) ? { scopes: b.scopes as Array<{ name: string, type: string }> } : {}),
      ...(Array.isArray(b.labels) ? { labels: b.labels as Array<{ key: string, value: string }> } : {}),
      ...(typeof b.description === 'string' ? { description: b.description } : {}),
      ...(b.deleteAfterDate === undefined ? {} : { deleteAfter: deleteAfter(b.deleteAfterDate) })
    })
    this.state.users.set(`${user.databaseName}/${user.username}`, next)
    this.state.markPending([...user.scopes, ...next.scopes])
    return next
  }

  view (u: SimUser): Record<string, unknown> {
    return {
      awsIAMType: 'NONE',
      databaseName: u.databaseName,
      groupId: this.projectId,
      labels: u.labels,
      ldapAuthType: 'NONE',
      links: [{ href: `${this.linkBase}/api/atlas/v2/groups/${this.projectId}/databaseUsers/${u.databaseName}/${encodeURIComponent(u.username)}`, rel: 'self' }],
      oidcAuthType: 'NONE',
      roles: u.roles,
      scopes: u.scopes,
      username: u.username,
      x509Type: 'NONE',
      ...(u.description === undefined ? {} : { description: u.description }),
      ...(u.deleteAfter === undefined ? {} : { deleteAfterDate: new Date(u.deleteAfter).toISOString().replace(/\.\d+Z$/, 'Z') })
    }
  }
}

/** Atlas keeps a temporary user at most a week (and the date must be ahead). */
function deleteAfter (value: unknown): number {
  const at = typeof value === 'string' ? Date.parse(value) : Number.NaN
  if (Number.isNaN(at) || at <= Date.now() || at > Date.now() + 7 * 24 * 3600_000) {
    throw new HttpFailure(UNVERIFIED.deleteAfterDate.status, UNVERIFIED.deleteAfterDate.code, 'Invalid attribute deleteAfterDate specified.', ['deleteAfterDate'])
  }
  return at
}

function check (user: SimUser): SimUser {
  if (user.username === '' || user.username.length > 1024) throw invalidAttribute('username')
  if (user.databaseName !== 'admin' && user.databaseName !== '$external') throw invalidAttribute('databaseName')
  if (user.databaseName === 'admin' && user.password.length < 8) throw invalidAttribute('password')
  if (!Array.isArray(user.roles) || user.roles.length === 0 || user.roles.some(r => typeof r.roleName !== 'string' || typeof r.databaseName !== 'string')) {
    throw invalidAttribute('roles')
  }
  for (const scope of user.scopes) {
    if (scope.type !== 'CLUSTER' && scope.type !== 'DATA_LAKE' && scope.type !== 'STREAM') throw invalidAttribute('scopes')
  }
  for (const label of user.labels) {
    if (typeof label.key !== 'string' || typeof label.value !== 'string' || label.key.length > 255 || label.value.length > 255) throw invalidAttribute('labels')
  }
  return user
}

/**
 * Database users (`/groups/{id}/databaseUsers`, 2023-01-01), in the recorded shape: SCRAM users on `admin`;
 * AWS IAM, Atlas-managed X.509 and OIDC workload users on `$external`; roles, cluster scopes, labels; each
 * change PENDING on the clusters it reaches until propagated. Errors as recorded by MongoDB's clients: GET of
 * a missing user `USERNAME_NOT_FOUND`, DELETE `USER_NOT_FOUND`, a duplicate `USER_ALREADY_EXISTS`.
 * Certificates (`/databaseUsers/{username}/certs`) as recorded: 201 with the PEM of the certificate and its
 * key (labelled JSON), and a list of the unexpired ones.
 */
import type { SimAuth } from './auth.js'
import { CertificateAuthority } from './certificates.js'
import { HttpFailure, type RouteContext, type Routed, VERSIONS, asObject, invalidAttribute, page } from './http.js'
import { AUTH_FIELDS, type AuthField, type SimState, type SimUser } from './state.js'
import { UNVERIFIED } from './unverified.js'

/** The values each authentication field takes (the spec's enums). */
const AUTH_VALUES: Record<AuthField, readonly string[]> = {
  awsIAMType: ['NONE', 'USER', 'ROLE'],
  x509Type: ['NONE', 'CUSTOMER', 'MANAGED'],
  oidcAuthType: ['NONE', 'IDP_GROUP', 'USER'],
  ldapAuthType: ['NONE', 'GROUP', 'USER']
}
const ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:(role|user)\/\S+$/

export class UserRoutes {
  private readonly state: SimState
  private readonly auth: SimAuth
  private readonly projectId: string
  private readonly linkBase: string
  maxDatabaseUsers: number
  /** OIDC identity providers connected to the project (ids); workload users must name one. */
  readonly oidcProviders: Set<string>
  private readonly authority: CertificateAuthority

  constructor (state: SimState, auth: SimAuth, project: { projectId: string, linkBase: string, maxDatabaseUsers: number, oidcProviders?: string[] }) {
    this.state = state
    this.auth = auth
    this.projectId = project.projectId
    this.linkBase = project.linkBase
    this.maxDatabaseUsers = project.maxDatabaseUsers
    this.oidcProviders = new Set(project.oidcProviders ?? [])
    this.authority = new CertificateAuthority(project.projectId)
  }

  /** The public key that signs the project's user certificates (tests verify them with it). */
  get certificateAuthorityKey (): CertificateAuthority['publicKey'] {
    return this.authority.publicKey
  }

  route (ctx: RouteContext): Routed | undefined {
    const { method, rest } = ctx
    const v = ctx.accept(VERSIONS.v20230101)
    const certs = rest.length === 2 && rest[1] === 'certs' && rest[0] !== 'admin' && rest[0] !== '$external'
    this.auth.requirePermission(method === 'GET' ? 'read' : certs ? 'owner' : 'users')
    if (rest.length === 0 && method === 'GET') return ctx.ok(200, page(ctx.url, [...this.state.users.values()], this.linkBase, u => this.view(u)), v)
    if (rest.length === 0 && method === 'POST') return ctx.ok(201, this.view(this.create(ctx.body)), v)
    if (certs) return this.certificates(ctx, rest[0]!, v)
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
    const auth = this.authOf(b)
    const user = check({
      username: String(b.username),
      databaseName: String(b.databaseName),
      password: typeof b.password === 'string' ? b.password : '',
      ...(Object.keys(auth).length === 0 ? {} : { auth }),
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

  /**
   * The authentication fields of a create, checked: known values, one kind at most, a username of the
   * kind's form (an ARN for IAM, `<provider id>/<name>` naming a connected provider for OIDC).
   */
  private authOf (b: Record<string, unknown>): Partial<Record<AuthField, string>> {
    const auth: Partial<Record<AuthField, string>> = {}
    for (const field of AUTH_FIELDS) {
      const value = b[field]
      if (value === undefined) continue
      if (typeof value !== 'string' || !AUTH_VALUES[field].includes(value)) throw invalidAttribute(field)
      if (value !== 'NONE') auth[field] = value
    }
    const kinds = Object.keys(auth)
    const mismatch = (): HttpFailure => new HttpFailure(UNVERIFIED.userAuthMismatch.status, UNVERIFIED.userAuthMismatch.code, 'Invalid attribute databaseName specified.', ['databaseName'])
    if (kinds.length > 1) throw mismatch()
    const username = String(b.username)
    // SCRAM and OIDC workforce users live on admin; IAM, X.509 and OIDC workload users on $external; LDAP on either.
    const expected = kinds.length === 0 || auth.oidcAuthType === 'IDP_GROUP' ? 'admin' : auth.ldapAuthType === undefined ? '$external' : undefined
    if (expected !== undefined && b.databaseName !== expected) throw mismatch()
    if (kinds.length > 0 && b.password !== undefined) throw mismatch()
    if (auth.awsIAMType !== undefined) {
      const match = ARN.exec(username)
      if (match === null || match[1] !== auth.awsIAMType.toLowerCase()) {
        throw new HttpFailure(UNVERIFIED.iamUsername.status, UNVERIFIED.iamUsername.code, 'Invalid attribute username specified.', ['username'])
      }
    }
    if (auth.oidcAuthType !== undefined) {
      const provider = /^([0-9a-f]{24})\/./.exec(username)?.[1]
      if (provider === undefined || !this.oidcProviders.has(provider)) {
        throw new HttpFailure(UNVERIFIED.oidcProviderUnknown.status, UNVERIFIED.oidcProviderUnknown.code, 'Invalid attribute username specified.', ['username'])
      }
    }
    return auth
  }

  /** `POST` issues a certificate to an Atlas-managed X.509 user; `GET` lists its unexpired ones. */
  private certificates (ctx: RouteContext, username: string, v: ReturnType<RouteContext['accept']>): Routed | undefined {
    const user = this.state.users.get(`$external/${username}`)
    if (user === undefined) throw new HttpFailure(404, 'USERNAME_NOT_FOUND', `No user with username ${username} exists.`, [username])
    if (ctx.method === 'GET') {
      const now = Date.now()
      const valid = (user.certificates ?? []).filter(c => Date.parse(c.notAfter) > now)
      return ctx.ok(200, page(ctx.url, valid, this.linkBase, c => ({ _id: Number(c.id), createdAt: c.createdAt, groupId: this.projectId, notAfter: c.notAfter, subject: c.subject })), v)
    }
    if (ctx.method !== 'POST') return undefined
    const months = asObject(ctx.body).monthsUntilExpiration ?? 3
    const refuse = (field: string): HttpFailure => new HttpFailure(UNVERIFIED.certNotManaged.status, UNVERIFIED.certNotManaged.code, `Invalid attribute ${field} specified.`, [field])
    if (user.auth?.x509Type !== 'MANAGED') throw refuse('x509Type')
    if (typeof months !== 'number' || !Number.isInteger(months) || months < 1 || months > 24) throw refuse('monthsUntilExpiration')
    const issued = this.authority.issue(username, months)
    const second = (d: Date): string => d.toISOString().replace(/\.\d+Z$/, 'Z')
    user.certificates = [...(user.certificates ?? []), { id: String(issued.serial), createdAt: second(new Date()), notAfter: second(issued.notAfter), subject: issued.subject }]
    return { ...ctx.ok(201, undefined, v), text: issued.pem }
  }

  view (u: SimUser): Record<string, unknown> {
    return {
      awsIAMType: u.auth?.awsIAMType ?? 'NONE',
      databaseName: u.databaseName,
      groupId: this.projectId,
      labels: u.labels,
      ldapAuthType: u.auth?.ldapAuthType ?? 'NONE',
      links: [{ href: `${this.linkBase}/api/atlas/v2/groups/${this.projectId}/databaseUsers/${u.databaseName}/${encodeURIComponent(u.username)}`, rel: 'self' }],
      oidcAuthType: u.auth?.oidcAuthType ?? 'NONE',
      roles: u.roles,
      scopes: u.scopes,
      username: u.username,
      x509Type: u.auth?.x509Type ?? 'NONE',
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
  if (user.auth === undefined && user.password.length < 8) throw invalidAttribute('password')
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

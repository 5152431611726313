/**
 * How a binding's Atlas user authenticates. A plan lists the kinds it allows (`atlas.bindingAuth`, default
 * password only); a bind chooses one with the `auth` parameter and gives what that kind needs. Everything is
 * checked before anything is made, each problem a 400 naming the parameter and what is expected:
 *   scram    a password (the default)
 *   aws-iam  an AWS IAM role (`awsIamRoleArn`): the user is the role's ARN, the app signs in with MONGODB-AWS
 *   x509     a certificate Atlas issues and manages (`certificateMonths`, 1 to 24, default 3): MONGODB-X509
 *   oidc     OIDC workload identity through the identity provider the plan names (`oidcIdentity`, the
 *            workload's name at that provider; `oidcEnvironment` and `oidcTokenResource` for the driver)
 */
import { X509Certificate } from 'node:crypto'
import { type DatabaseUserAuth, DATABASE_USER_AUTHS } from '../ports/atlas-port.js'
import { type JsonObject, BadRequestError } from '../ports/service-broker.js'
import type { PasswordlessAuth } from '../ports/storage-port.js'

export type AuthKind = DatabaseUserAuth
export const AUTH_KINDS = DATABASE_USER_AUTHS

/** A plan's credential settings (both plan kinds). */
export interface BindingAuthSettings {
  /** The kinds a bind may choose; the first is the default (absent: scram only). */
  bindingAuth?: AuthKind[]
  /** Months an X.509 certificate is valid when the bind names none (1 to 24; Atlas's default is 3). */
  certificateMonths?: number
  /** The Atlas id of the project's OIDC workload identity provider (24 hex digits): required for `oidc`. */
  oidcIdentityProviderId?: string
}

/** A binding's authentication: a password, or one of the passwordless kinds as its record keeps them. */
export type BindingAuth = { kind: 'scram' } | PasswordlessAuth

export const OIDC_ENVIRONMENTS = ['k8s', 'azure', 'gcp'] as const satisfies ReadonlyArray<NonNullable<Extract<PasswordlessAuth, { kind: 'oidc' }>['environment']>>
export type OidcEnvironment = (typeof OIDC_ENVIRONMENTS)[number]

/** The parameters each kind takes: a parameter of another kind is a mistake worth saying. */
const KIND_PARAMETERS: Record<AuthKind, readonly string[]> = {
  scram: [],
  'aws-iam': ['awsIamRoleArn'],
  x509: ['certificateMonths'],
  oidc: ['oidcIdentity', 'oidcEnvironment', 'oidcTokenResource']
}

/** An IAM role ARN (partitions aws, aws-cn, aws-us-gov, ...): 12-digit account, role path and name. */
const ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/
const PROVIDER_ID = /^[0-9a-f]{24}$/
/** A workload's name at its identity provider: printable, no spaces (it becomes part of the username). */
const IDENTITY = /^[\x21-\x7e]{1,512}$/

export function allowedKinds (settings: BindingAuthSettings): AuthKind[] {
  return settings.bindingAuth ?? ['scram']
}

/** The kind a bind asks for: its `auth` parameter, else the predecessor's (rotation), else the plan's first. */
export function requestedKind (parameters: JsonObject, settings: BindingAuthSettings, predecessor?: AuthKind): AuthKind {
  const asked = parameters.auth
  if (asked === undefined) return predecessor ?? allowedKinds(settings)[0]!
  if (typeof asked !== 'string' || !(AUTH_KINDS as readonly string[]).includes(asked)) {
    throw new BadRequestError(`parameter 'auth' must be one of ${allowedKinds(settings).join(', ')}`)
  }
  return asked as AuthKind
}

/**
 * The binding's authentication for `kind` (the request's, or the policy's decision), from the bind's
 * parameters: a 400 when the plan does not allow the kind or its parameters are missing or wrong.
 */
export function resolveAuth (kind: AuthKind, parameters: JsonObject, settings: BindingAuthSettings): BindingAuth {
  const allowed = allowedKinds(settings)
  if (!allowed.includes(kind)) throw new BadRequestError(`this plan's bindings authenticate with ${allowed.join(' or ')}, not ${kind}`)
  for (const [other, names] of Object.entries(KIND_PARAMETERS)) {
    if (other === kind) continue
    const stray = names.find(name => parameters[name] !== undefined)
    if (stray !== undefined) throw new BadRequestError(`parameter '${stray}' applies only to auth ${other}, and this binding uses ${kind}`)
  }
  if (kind === 'aws-iam') {
    const arn = parameters.awsIamRoleArn
    if (arn === undefined) throw new BadRequestError("auth aws-iam needs parameter 'awsIamRoleArn': the ARN of the IAM role the app runs as, such as arn:aws:iam::123456789012:role/my-app")
    if (typeof arn !== 'string' || !ROLE_ARN.test(arn)) {
      throw new BadRequestError("parameter 'awsIamRoleArn' must be an IAM role ARN such as arn:aws:iam::123456789012:role/my-app (users, groups and assumed-role sessions are not roles)")
    }
    return { kind, roleArn: arn }
  }
  if (kind === 'x509') {
    const months = parameters.certificateMonths ?? settings.certificateMonths ?? 3
    if (typeof months !== 'number' || !Number.isInteger(months) || months < 1 || months > 24) {
      throw new BadRequestError("parameter 'certificateMonths' must be a whole number of months from 1 to 24 (Atlas issues certificates for at most 24 months)")
    }
    return { kind, certificateMonths: months }
  }
  if (kind === 'oidc') {
    if (settings.oidcIdentityProviderId === undefined) {
      throw new BadRequestError('this plan has no OIDC workload identity provider configured; ask the operator, or bind with another auth')
    }
    const identity = parameters.oidcIdentity
    if (identity === undefined) throw new BadRequestError("auth oidc needs parameter 'oidcIdentity': the workload's name at the identity provider (the token's subject)")
    if (typeof identity !== 'string' || !IDENTITY.test(identity)) throw new BadRequestError("parameter 'oidcIdentity' must be 1 to 512 printable characters without spaces")
    const environment = parameters.oidcEnvironment
    if (environment !== undefined && (typeof environment !== 'string' || !(OIDC_ENVIRONMENTS as readonly string[]).includes(environment))) {
      throw new BadRequestError(`parameter 'oidcEnvironment' must be one of ${OIDC_ENVIRONMENTS.join(', ')}`)
    }
    const tokenResource = parameters.oidcTokenResource
    if (tokenResource !== undefined && (typeof tokenResource !== 'string' || tokenResource === '' || /[,\s]/.test(tokenResource))) {
      throw new BadRequestError("parameter 'oidcTokenResource' must be a non-empty string without commas or spaces (the token audience)")
    }
    if ((environment === 'azure' || environment === 'gcp') && tokenResource === undefined) {
      throw new BadRequestError(`oidcEnvironment ${environment} needs parameter 'oidcTokenResource': the audience the driver asks tokens for`)
    }
    return {
      kind, identity, ...(environment === undefined ? {} : { environment: environment as OidcEnvironment }),
      ...(tokenResource === undefined ? {} : { tokenResource })
    }
  }
  return { kind: 'scram' }
}

/** The Atlas username: the role's ARN for IAM, `<provider id>/<identity>` for OIDC, the policy's name otherwise. */
export function atlasUsername (auth: BindingAuth, settings: BindingAuthSettings, policyName: () => string): string {
  if (auth.kind === 'aws-iam') return auth.roleArn
  if (auth.kind === 'oidc') return `${settings.oidcIdentityProviderId!}/${auth.identity}`
  return policyName()
}

/** What a connection string says about signing in, for each kind. */
export function signInOptions (auth: BindingAuth): Record<string, string> {
  if (auth.kind === 'aws-iam') return { authSource: '$external', authMechanism: 'MONGODB-AWS' }
  if (auth.kind === 'x509') return { authSource: '$external', authMechanism: 'MONGODB-X509' }
  if (auth.kind === 'oidc') {
    const properties = [
      ...(auth.environment === undefined ? [] : [`ENVIRONMENT:${auth.environment}`]),
      ...(auth.tokenResource === undefined ? [] : [`TOKEN_RESOURCE:${auth.tokenResource}`])
    ].join(',')
    return { authSource: '$external', authMechanism: 'MONGODB-OIDC', ...(properties === '' ? {} : { authMechanismProperties: properties }) }
  }
  return { authSource: 'admin' }
}

/** A certificate Atlas issued, split: the certificate, its private key, and when it expires. */
export interface IssuedCertificate {
  certificate: string
  privateKey: string
  notAfter: string
}

/** Splits Atlas's PEM (certificate, then key); throws when either is missing or the certificate does not parse. */
export function splitCertificate (pem: string): IssuedCertificate {
  const certificate = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0]
  const privateKey = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]+?-----END \1PRIVATE KEY-----/.exec(pem)?.[0]
  if (certificate === undefined || privateKey === undefined) throw new Error('Atlas answered a certificate request without a certificate and its key')
  return { certificate: `${certificate}\n`, privateKey: `${privateKey}\n`, notAfter: new Date(new X509Certificate(certificate).validTo).toISOString() }
}

/** Problems of a plan's credential settings, for the catalog check. */
export function checkAuthSettings (where: string, settings: BindingAuthSettings): string[] {
  const problems: string[] = []
  const kinds = settings.bindingAuth
  if (kinds !== undefined && (!Array.isArray(kinds) || kinds.length === 0 || !kinds.every(k => (AUTH_KINDS as readonly string[]).includes(k)) || new Set(kinds).size !== kinds.length)) {
    problems.push(`${where}: atlas.bindingAuth must list some of ${AUTH_KINDS.join(', ')}, each once (the first is the default)`)
  }
  const months = settings.certificateMonths
  if (months !== undefined && (!Number.isInteger(months) || months < 1 || months > 24)) problems.push(`${where}: atlas.certificateMonths must be a whole number from 1 to 24`)
  const provider = settings.oidcIdentityProviderId
  if (provider !== undefined && (typeof provider !== 'string' || !PROVIDER_ID.test(provider))) {
    problems.push(`${where}: atlas.oidcIdentityProviderId must be the identity provider's Atlas id (24 hexadecimal digits)`)
  }
  if (Array.isArray(kinds) && kinds.includes('oidc') && provider === undefined) problems.push(`${where}: atlas.bindingAuth allows oidc, which needs atlas.oidcIdentityProviderId`)
  return problems
}

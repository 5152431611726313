/**
 * What a bind or fetch answers: the credentials object for each way of signing in and network path, the OSB `metadata` of
 * expiring credentials, and when a binding's credentials stop working (its user's deletion, or its X.509
 * certificate's expiry, whichever comes first).
 */
import type { ConnectionStrings } from '../ports/atlas-port.js'
import { type JsonObject, UnprocessableError } from '../ports/service-broker.js'
import type { BindingRecord } from '../ports/storage-port.js'
import { type BindingAuth, type IssuedCertificate, signInOptions } from './binding-auth.js'
import { chosenStrings, unreachableMessage } from './binding-connection.js'
import { signInUri } from './credentials.js'

/** What the app signs in with besides its username: a password, a certificate, or nothing (IAM, OIDC). */
export type Login = { password: string } | { certificate: IssuedCertificate } | Record<string, never>

export function authOf (record: BindingRecord): BindingAuth {
  return record.auth ?? { kind: 'scram' }
}

/** The secrets in a login, scrubbed from anything a policy hook throws. */
export function loginSecrets (login: Login): string[] {
  if ('password' in login) return [login.password]
  if ('certificate' in login) return [login.certificate.privateKey]
  return []
}

/**
 * The broker's credentials object (before the policy's `credentials` hook): username, database, how to sign
 * in (authSource, authMechanism and its properties), the URI built from the path the binding takes (its SRV
 * string, else the standard one), every connection string the cluster has; the password, or the certificate
 * and its key, when there are. Throws UnprocessableError when the cluster has no string on a private path.
 */
export function baseCredentials (record: BindingRecord, connection: ConnectionStrings, login: Login): JsonObject {
  const chosen = chosenStrings(connection, record.connection) ?? {}
  if (record.connection !== undefined && chosen.srv === undefined && chosen.standard === undefined) {
    throw new UnprocessableError(unreachableMessage(record.cluster, record.connection))
  }
  const signIn = signInOptions(authOf(record))
  const userinfo = 'password' in login ? { username: record.username, password: login.password } : undefined
  const uri = signInUri(chosen.srv, record.database, userinfo, signIn) ?? signInUri(chosen.standard, record.database, userinfo, signIn)
  const certificate = 'certificate' in login ? login.certificate : undefined
  return {
    username: record.username,
    ...('password' in login ? { password: login.password } : {}),
    database: record.database,
    ...signIn,
    cluster: record.cluster,
    ...(uri === undefined ? {} : { uri }),
    connectionStrings: connectionStringsJson(connection),
    ...(certificate === undefined
      ? {}
      : {
          certificate: certificate.certificate,
          privateKey: certificate.privateKey,
          // One file with both, as drivers' tlsCertificateKeyFile takes it.
          certificateKeyPem: `${certificate.certificate}${certificate.privateKey}`,
          certificateExpiresAt: certificate.notAfter
        })
  }
}

/** The standard-form string of the binding's path (OSB `endpoints` are read from it). */
export function standardStringOf (record: BindingRecord, connection: ConnectionStrings): string | undefined {
  return chosenStrings(connection, record.connection)?.standard
}

/** Every string Atlas reports, under stable keys (absent ones left out). */
function connectionStringsJson (c: ConnectionStrings): JsonObject {
  const out: JsonObject = {}
  for (const key of ['standard', 'standardSrv', 'private', 'privateSrv'] as const) if (c[key] !== undefined) out[key] = c[key]
  if (c.privateEndpoint !== undefined) {
    out.privateEndpoint = c.privateEndpoint.map(e => ({
      ...(e.connectionString === undefined ? {} : { connectionString: e.connectionString }),
      ...(e.srvConnectionString === undefined ? {} : { srvConnectionString: e.srvConnectionString }),
      ...(e.srvShardOptimizedConnectionString === undefined ? {} : { srvShardOptimizedConnectionString: e.srvShardOptimizedConnectionString }),
      endpointIds: [...e.endpointIds]
    }))
  }
  return out
}

/** When the binding's credentials stop working, if they do: the earlier of its user's deletion and its certificate's expiry. */
export function credentialsExpireAt (record: BindingRecord, certificate: IssuedCertificate | undefined): string | undefined {
  const times = [record.expiresAt, certificate?.notAfter].filter((t): t is string => t !== undefined)
  if (times.length === 0) return undefined
  return new Date(Math.min(...times.map(t => Date.parse(t)))).toISOString()
}

/**
 * OSB binding metadata for expiring credentials: `expires_at`, and `renew_before` a tenth of the lifetime
 * (at least a minute, at most an hour) before it, so platforms rotate in time.
 */
export function expiryMetadata (expiresAt: string, startedAt: string): { expires_at: string, renew_before: string } {
  const expires = Date.parse(expiresAt)
  const lifetime = expires - Date.parse(startedAt)
  const margin = Math.min(3600_000, Math.max(60_000, lifetime / 10))
  return { expires_at: new Date(expires).toISOString(), renew_before: new Date(expires - margin).toISOString() }
}

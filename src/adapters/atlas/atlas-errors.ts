/**
 * Atlas's answers as AtlasPort errors, keyed on `errorCode` (never on its text). Answers only an operator can
 * fix (the key's access list, a missing role, refused credentials) become sentences that name the fix, with
 * the address Atlas reported; Atlas's own detail follows in quotes for the log.
 */
import {
  type AtlasErrorDetails, AtlasAuthError, type AtlasError, AtlasIpNotAllowedError, AtlasPermissionError, AtlasRateLimitedError, AtlasRequestError,
  AtlasUnavailableError, AccessListEntryNotFoundError, ClusterNotFoundError, DatabaseUserExistsError, DatabaseUserNotFoundError,
  DuplicateClusterNameError, ProjectExistsError, ProjectNotEmptyError, ProjectNotFoundError, TerminationProtectedError
} from '../../ports/atlas-port.js'

export interface AtlasEnvelope {
  error?: number
  errorCode?: string
  detail?: string | null
  reason?: string | null
  parameters?: unknown[] | null
}

/** What a call needs of the credentials, named as Atlas's UI names project roles. */
export type AtlasRole = 'Project Read Only' | 'Project Cluster Manager' | 'Project Database Access Admin' | 'Project Owner' | 'Organization Project Creator'

/** errorCode → port error class. Anything else is classified by HTTP status. */
const BY_CODE: Record<string, new (message: string, details: AtlasErrorDetails) => AtlasError> = {
  CLUSTER_NOT_FOUND: ClusterNotFoundError,
  USERNAME_NOT_FOUND: DatabaseUserNotFoundError,
  USER_NOT_FOUND: DatabaseUserNotFoundError,
  USER_ALREADY_EXISTS: DatabaseUserExistsError,
  DUPLICATE_CLUSTER_NAME: DuplicateClusterNameError,
  CANNOT_TERMINATE_CLUSTER_WHEN_TERMINATION_PROTECTION_ENABLED: TerminationProtectedError,
  GROUP_NOT_FOUND: ProjectNotFoundError,
  GROUP_ALREADY_EXISTS: ProjectExistsError,
  CANNOT_CLOSE_GROUP_ACTIVE_ATLAS_CLUSTERS: ProjectNotEmptyError,
  ATLAS_NETWORK_PERMISSION_ENTRY_NOT_FOUND: AccessListEntryNotFoundError,
  RATE_LIMITED: AtlasRateLimitedError,
  RATE_LIMITED_TOKEN_BUCKET: AtlasRateLimitedError
}

/**
 * Codes Atlas answers (with 401 or 403) when valid credentials lack a role: no challenge to answer, no token
 * to refresh, and retrying cannot help.
 */
export const PERMISSION_CODES = new Set(['USER_UNAUTHORIZED', 'NOT_ORG_GROUP_CREATOR', 'NOT_IN_GROUP', 'NOT_ORG_MEMBER', 'NOT_ATLAS_ADMIN'])

const ROLES_NEEDED = 'The broker needs Project Cluster Manager (clusters), Project Database Access Admin (database users) and ' +
  'Project Owner (deleting clusters, changing termination protection) on its project, or Project Owner alone.'

export function toAtlasError (status: number, envelope: AtlasEnvelope | undefined, secrets: string[] = [], needs?: AtlasRole): AtlasError {
  const code = envelope?.errorCode
  let detail = envelope?.detail ?? envelope?.reason ?? `HTTP ${status}`
  for (const secret of secrets) if (secret !== '') detail = detail.split(secret).join('[redacted]')
  const details: AtlasErrorDetails = { status, ...(code === undefined ? {} : { errorCode: code }) }
  const said = code === undefined ? `"${detail}"` : `"${detail}" (${code})`
  if (code === 'IP_ADDRESS_NOT_ON_ACCESS_LIST') {
    const reported = envelope?.parameters?.[0]
    const ip = typeof reported === 'string' ? reported : undefined
    return new AtlasIpNotAllowedError(
      `Atlas refused the call because ${ip === undefined ? 'the broker\'s address' : `the broker's address ${ip}`} is not on the API access list of its ` +
      `Atlas credentials: add ${ip ?? 'the broker\'s egress address'} to the access list of the API key or service account ` +
      `(Atlas: Organization Access Manager, Applications). Atlas said ${said}`, { ...details, ...(ip === undefined ? {} : { ip }) })
  }
  const ByCode = code === undefined ? undefined : BY_CODE[code]
  if (ByCode !== undefined) return new ByCode(`${detail}${code === undefined ? '' : ` (${code})`}`, details)
  if ((code !== undefined && PERMISSION_CODES.has(code)) || status === 403) {
    return new AtlasPermissionError(
      `The broker's Atlas credentials lack a role for this call${needs === undefined ? '' : ` (it needs ${needs})`}. ${ROLES_NEEDED} Atlas said ${said}`, details)
  }
  if (status === 401) {
    return new AtlasAuthError(`Atlas refused the broker's credentials: check ATLAS_PUBLIC_KEY and ATLAS_PRIVATE_KEY (or ATLAS_CLIENT_ID and ATLAS_CLIENT_SECRET). Atlas said ${said}`, details)
  }
  const message = code === undefined ? detail : `${detail} (${code})`
  if (status === 429) return new AtlasRateLimitedError(message, details)
  if (status >= 500) return new AtlasUnavailableError(message, details)
  return new AtlasRequestError(message, details)
}

/** An answer of the OAuth token endpoint that is not a token: RFC 6749 `{"error": ...}` or Atlas's envelope. */
export function tokenError (status: number, body: { error?: unknown } & AtlasEnvelope | undefined): AtlasError {
  if (typeof body?.error === 'string') {
    return new AtlasAuthError(`Atlas refused the service account (${body.error}): check ATLAS_CLIENT_ID and ATLAS_CLIENT_SECRET`, { status, errorCode: body.error })
  }
  if (status === 401 || status === 400) {
    return new AtlasAuthError(`Atlas refused the service account (${body?.errorCode ?? `HTTP ${status}`}): check ATLAS_CLIENT_ID and ATLAS_CLIENT_SECRET`, { status, ...(body?.errorCode === undefined ? {} : { errorCode: body.errorCode }) })
  }
  return toAtlasError(status, body)
}

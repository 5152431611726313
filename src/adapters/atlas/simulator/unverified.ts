/**
 * Every answer the simulator had to guess: no recording of real Atlas traffic, client code or documentation we
 * could read shows it. Each entry is used where the simulator answers it; the README's fidelity note lists the
 * same entries, so that someone with Atlas access knows what to confirm. Everything not listed here follows a
 * recording (test/fixtures/atlas/ names each one's source) or the API specification.
 */
export interface Guess {
  status: number
  code: string
  /** When the simulator answers it, and what is guessed about it. */
  what: string
}

export const UNVERIFIED = {
  clusterLimit: { status: 400, code: 'CLUSTER_LIMIT_EXCEEDED', what: 'a 26th deployment in a project (the 25-deployment limit): the code' },
  userLimit: { status: 400, code: 'DATABASE_USER_LIMIT_EXCEEDED', what: 'a 101st database user in a project (the 100-user limit): the code' },
  invalidMediaType: { status: 415, code: 'INVALID_MEDIA_TYPE', what: 'a body whose Content-Type version differs from Accept: status and code' },
  readOnlySizeMismatch: { status: 400, code: 'INSTANCE_SIZE_MUST_MATCH', what: 'a cluster write whose readOnlySpecs size differs from the shard\'s electable size: the code (the rule is the spec\'s)' },
  readOnlyField: { status: 400, code: 'INVALID_ATTRIBUTE', what: 'a cluster PATCH carrying read-only fields (id, stateName, connectionStrings, effective*Specs, zoneId, ...): that Atlas refuses rather than ignores them' },
  unknownSpecId: { status: 400, code: 'INVALID_ATTRIBUTE', what: 'a cluster PATCH naming a replicationSpecs id the cluster does not have: status and code' },
  deleteAfterDate: { status: 400, code: 'INVALID_ATTRIBUTE', what: 'a temporary user whose deleteAfterDate is past or more than a week ahead: status and code (the one-week limit is documented)' },
  patchMissingUser: { status: 404, code: 'USER_NOT_FOUND', what: 'a PATCH of a database user that does not exist: the code (GET answers USERNAME_NOT_FOUND, DELETE USER_NOT_FOUND)' },
  missingRole: { status: 401, code: 'USER_UNAUTHORIZED', what: 'a call the API key has no role for: the detail text (status and code are as clients report them)' },
  oauthInvalidClient: { status: 401, code: 'invalid_client', what: 'wrong service-account credentials at /api/oauth/token: status (the body is OAuth\'s {"error": "invalid_client"})' },
  rootForServiceAccount: { status: 200, code: '', what: 'GET /api/atlas/v2 called with a service-account token: that `apiKey` is null (the spec marks it nullable)' },
  userAuthMismatch: { status: 400, code: 'INVALID_ATTRIBUTE', what: 'a database user whose authentication does not fit its databaseName, that has two kinds at once, or a password without SCRAM: status and code (the rules are the spec\'s)' },
  iamUsername: { status: 400, code: 'INVALID_ATTRIBUTE', what: 'an AWS IAM user whose username is not an ARN: that Atlas checks it, status and code' },
  oidcProviderUnknown: { status: 400, code: 'INVALID_ATTRIBUTE', what: 'an OIDC workload user naming an identity provider the project does not have: status and code' },
  certNotManaged: { status: 400, code: 'INVALID_ATTRIBUTE', what: 'a certificate asked for a user that is not Atlas-managed X.509 (or does not exist), or for more than 24 months: status and code' },
  projectExists: { status: 409, code: 'GROUP_ALREADY_EXISTS', what: 'a project created with a name the organisation has: the status (the code is the one the Atlas Operator checks for)' },
  projectNotEmpty: { status: 409, code: 'CANNOT_CLOSE_GROUP_ACTIVE_ATLAS_CLUSTERS', what: 'deleting a project that still has clusters: the status (the code is the one MongoDB\'s Terraform provider checks for)' },
  orgNotFound: { status: 404, code: 'ORG_NOT_FOUND', what: 'a project created in an organisation other than the key\'s: status and code' },
  oauthRevoke: { status: 200, code: '', what: 'POST /api/oauth/revoke: the answer\'s status and body (MongoDB\'s SDK expects 200)' }
} as const satisfies Record<string, Guess>

/**
 * The one place where port errors become broker (OSB) errors, like the Atlas broker's atlasToAPIError.
 * Callers that expect a particular port error (not found, exists, conflict) handle it themselves first.
 *
 * Descriptions reach end users (Cloud Foundry shows them): they say what happened and what to do, never
 * Atlas's own text (it names API paths and project ids). The port error stays as `cause` for the log.
 */
import {
  AtlasAccessError, AtlasError, AtlasRateLimitedError, AtlasRequestError, AtlasUnavailableError, ProjectNotFoundError
} from '../ports/atlas-port.js'
import { DatabaseAdminError } from '../ports/database-admin-port.js'
import { PolicyError } from '../ports/policy-port.js'
import {
  BrokerError, BrokerMisconfiguredError, ConcurrencyError, InternalError, ServiceUnavailableError, UnprocessableError, UpstreamError
} from '../ports/service-broker.js'
import { RecordExistsError, StorageError, VersionConflictError } from '../ports/storage-port.js'

/** Retry-After for a dependency that is down: long enough not to hammer it, short enough for a platform's retry. */
const UNAVAILABLE_RETRY_SECONDS = 10

/** Atlas's text without project, organisation or cluster ids and API paths. */
function forUsers (message: string): string {
  return message.replace(/\/(?:api|groups|orgs)\/\S*/g, '(path)').replace(/\b[a-f0-9]{24}\b/g, '(id)')
}

export function toBrokerError (err: unknown): BrokerError {
  if (err instanceof BrokerError) return err
  if (err instanceof AtlasAccessError || err instanceof ProjectNotFoundError) {
    return new BrokerMisconfiguredError('the broker cannot use its Atlas project as configured (credentials, roles or API access list); an operator must fix it, retrying will not help', { cause: err })
  }
  if (err instanceof AtlasRateLimitedError) {
    return new ServiceUnavailableError('Atlas is rate limiting the broker; retry later', { cause: err, retryAfterSeconds: err.retryAfterSeconds ?? UNAVAILABLE_RETRY_SECONDS })
  }
  if (err instanceof AtlasUnavailableError) {
    return new ServiceUnavailableError('Atlas cannot be reached right now; retry later', { cause: err, retryAfterSeconds: UNAVAILABLE_RETRY_SECONDS })
  }
  if (err instanceof AtlasRequestError) {
    // What Atlas objected to helps the user (a region, a limit); its ids and paths do not.
    return new UnprocessableError(`Atlas refused the request: ${forUsers(err.message)}`, { cause: err })
  }
  if (err instanceof AtlasError) return new UpstreamError(`Atlas answered unexpectedly${err.errorCode === undefined ? '' : ` (${err.errorCode})`}`, { cause: err })
  if (err instanceof VersionConflictError || err instanceof RecordExistsError) {
    return new ConcurrencyError('the resource was changed by another request at the same time; retry', { cause: err })
  }
  if (err instanceof StorageError) {
    return new ServiceUnavailableError('the broker\'s storage cannot be reached right now; retry later', { cause: err, retryAfterSeconds: UNAVAILABLE_RETRY_SECONDS })
  }
  if (err instanceof DatabaseAdminError) return new ServiceUnavailableError('the cluster could not be reached to drop the database; retry later', { cause: err, retryAfterSeconds: UNAVAILABLE_RETRY_SECONDS })
  if (err instanceof PolicyError) return new InternalError(err.message, { cause: err })
  return new InternalError('internal broker error', { cause: err })
}

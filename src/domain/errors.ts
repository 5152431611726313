/**
 * The one place where port errors become broker (OSB) errors, like the Atlas broker's atlasToAPIError.
 * Callers that expect a particular port error (not found, exists, conflict) handle it themselves first.
 */
import {
  AtlasAuthError, AtlasError, AtlasRateLimitedError, AtlasRequestError, AtlasUnavailableError, ProjectNotFoundError
} from '../ports/atlas-port.js'
import { DatabaseAdminError } from '../ports/database-admin-port.js'
import { PolicyError } from '../ports/policy-port.js'
import {
  BrokerError, InternalError, ServiceUnavailableError, UnprocessableError, UpstreamError
} from '../ports/service-broker.js'
import { StorageError } from '../ports/storage-port.js'

export function toBrokerError (err: unknown): BrokerError {
  if (err instanceof BrokerError) return err
  if (err instanceof AtlasAuthError || err instanceof ProjectNotFoundError) {
    return new ServiceUnavailableError(`Atlas refused the broker's credentials or project: ${err.message}`, { cause: err })
  }
  if (err instanceof AtlasRateLimitedError) {
    return new ServiceUnavailableError(`Atlas is rate limiting the broker; retry later (${err.message})`, { cause: err })
  }
  if (err instanceof AtlasUnavailableError) {
    return new ServiceUnavailableError(`Atlas is unavailable: ${err.message}`, { cause: err })
  }
  if (err instanceof AtlasRequestError) {
    return new UnprocessableError(`Atlas refused the request: ${err.message}`, { cause: err })
  }
  if (err instanceof AtlasError) return new UpstreamError(`Atlas error: ${err.message}`, { cause: err })
  if (err instanceof StorageError) {
    return new ServiceUnavailableError(`the broker's storage is unavailable: ${err.message}`, { cause: err })
  }
  if (err instanceof DatabaseAdminError) return new ServiceUnavailableError(err.message, { cause: err })
  if (err instanceof PolicyError) return new InternalError(err.message, { cause: err })
  return new InternalError('internal broker error', { cause: err })
}

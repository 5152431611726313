/**
 * DatabaseAdminPort: what the broker does inside a MongoDB cluster itself (the Atlas Administration API
 * has no "drop database"). Used only when the operator enables dropping databases on deprovision.
 */
export interface DatabaseAdminPort {
  /** Drops `database` through `uri` (which carries credentials allowed to). Idempotent: a missing database is fine. */
  dropDatabase(uri: string, database: string, options?: { deadline?: number }): Promise<void>
}

/** The cluster could not be reached or refused the drop. */
export class DatabaseAdminError extends Error {
  readonly code = 'DATABASE_ADMIN_ERROR'
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DatabaseAdminError'
  }
}

/** DatabaseAdminPort on the official MongoDB driver: connect with the given URI, drop, disconnect. */
import { MongoClient } from 'mongodb'
import { type DatabaseAdminPort, DatabaseAdminError } from '../../ports/database-admin-port.js'

export class MongoDatabaseAdmin implements DatabaseAdminPort {
  private readonly timeoutMs: number

  constructor (options: { timeoutMs?: number } = {}) {
    this.timeoutMs = options.timeoutMs ?? 10_000
  }

  async dropDatabase (uri: string, database: string, options: { deadline?: number } = {}): Promise<void> {
    const budget = Math.max(1000, Math.min(this.timeoutMs, (options.deadline ?? Date.now() + this.timeoutMs) - Date.now()))
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: budget, connectTimeoutMS: budget, socketTimeoutMS: budget, timeoutMS: budget })
    try {
      await client.connect()
      await client.db(database).dropDatabase()
    } catch (err) {
      // The driver's message never contains the URI's password; the URI itself is not repeated here.
      throw new DatabaseAdminError(`could not drop database ${database}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    } finally {
      await client.close().catch(() => undefined)
    }
  }
}

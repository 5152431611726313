/** DatabaseAdminPort for local mode: the simulated clusters have no mongod, so drops are only recorded. */
import type { DatabaseAdminPort } from '../../ports/database-admin-port.js'

export class SimulatedDatabaseAdmin implements DatabaseAdminPort {
  readonly dropped: Array<{ host: string, database: string }> = []

  async dropDatabase (uri: string, database: string): Promise<void> {
    this.dropped.push({ host: uri.replace(/^mongodb(\+srv)?:\/\/[^@]*@/, '').split(/[/?]/)[0] ?? '', database })
  }
}

/**
 * A MongoDB for tests, when one can be had: MONGODB_URI, or mongodb-memory-server with a system binary
 * (MONGOMS_SYSTEM_BINARY). Our machines cannot download a mongod, so otherwise callers skip with one line.
 */
export interface TestMongo {
  uri: string
  stop: () => Promise<void>
}

export const NO_MONGO_REASON = 'no mongod available (set MONGODB_URI, or MONGOMS_SYSTEM_BINARY for mongodb-memory-server; a mongod binary cannot be downloaded on this machine)'

export async function startMongo (): Promise<TestMongo | undefined> {
  if (process.env.MONGODB_URI !== undefined && process.env.MONGODB_URI !== '') {
    return { uri: process.env.MONGODB_URI, stop: async () => {} }
  }
  if (process.env.MONGOMS_SYSTEM_BINARY === undefined || process.env.MONGOMS_SYSTEM_BINARY === '') return undefined
  const { MongoMemoryServer } = await import('mongodb-memory-server')
  const server = await MongoMemoryServer.create()
  return { uri: server.getUri(), stop: async () => { await server.stop() } }
}

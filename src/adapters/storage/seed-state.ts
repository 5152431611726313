/**
 * python-atlasbroker's state, as `atlas-broker import-seed` reads it: its one MongoDB collection (instance and
 * binding documents side by side), or a `mongoexport` of it (one JSON document per line, or a JSON array;
 * extended JSON such as `{"$oid": ...}` is kept as is, the importer ignores `_id`).
 */
import { MongoClient } from 'mongodb'
import { StorageUnavailableError } from '../../ports/storage-port.js'

export function parseMongoExport (text: string, file: string): unknown[] {
  const trimmed = text.trim()
  if (trimmed === '') return []
  try {
    if (trimmed.startsWith('[')) return JSON.parse(trimmed) as unknown[]
    return trimmed.split(/\r?\n/).filter(line => line.trim() !== '').map(line => JSON.parse(line) as unknown)
  } catch (err) {
    throw new SeedStateError(`${file} is not a mongoexport of JSON documents (${err instanceof Error ? err.message : String(err)})`)
  }
}

export async function readSeedCollection (source: { uri: string, database: string, collection: string, timeoutMs: number }): Promise<unknown[]> {
  const client = new MongoClient(source.uri, { serverSelectionTimeoutMS: source.timeoutMs, connectTimeoutMS: source.timeoutMs })
  try {
    await client.connect()
    return await client.db(source.database).collection(source.collection).find({}, { maxTimeMS: source.timeoutMs * 4 }).toArray()
  } catch (err) {
    throw new StorageUnavailableError(`cannot read the seed's collection ${source.database}.${source.collection}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  } finally {
    await client.close().catch(() => undefined)
  }
}

/** The seed's state could not be read as such. */
export class SeedStateError extends Error {
  readonly code = 'SEED_STATE'
  constructor (message: string) {
    super(message)
    this.name = 'SeedStateError'
  }
}

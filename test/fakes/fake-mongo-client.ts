/**
 * A stand-in for the MongoDB driver's client, for the parts MongoStorage uses (insertOne, findOne,
 * findOneAndUpdate with $set/$unset/$inc, deleteOne, find().sort().limit().toArray() ($ne, $gt), countDocuments, createIndex,
 * ping), with MongoDB's semantics for them: unique `_id` (E11000), equality and `$ne` filters on dotted
 * paths, documents copied in and out. It checks the adapter's own logic where no mongod can run; it is not a
 * substitute for the contract run against a real server.
 */
import { MongoServerError } from 'mongodb'

type Doc = Record<string, unknown> & { _id: string }

function get (doc: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((value, key) => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined), doc)
}

function matches (doc: Doc, filter: Record<string, unknown>): boolean {
  return Object.entries(filter).every(([path, condition]) => {
    const value = get(doc, path)
    if (typeof condition === 'object' && condition !== null && '$ne' in condition) return value !== (condition as { $ne: unknown }).$ne
    if (typeof condition === 'object' && condition !== null && '$gt' in condition) return String(value) > String((condition as { $gt: unknown }).$gt)
    return value === condition
  })
}

class FakeCollection {
  private readonly docs = new Map<string, Doc>()

  async createIndex (): Promise<string> { return 'index' }

  async insertOne (doc: Doc): Promise<{ insertedId: string }> {
    if (this.docs.has(doc._id)) throw new MongoServerError({ message: `E11000 duplicate key error dup key: { _id: "${doc._id}" }`, code: 11000 })
    this.docs.set(doc._id, structuredClone(doc))
    return { insertedId: doc._id }
  }

  async findOne (filter: Record<string, unknown>): Promise<Doc | null> {
    const found = [...this.docs.values()].find(d => matches(d, filter))
    return found === undefined ? null : structuredClone(found)
  }

  async findOneAndUpdate (filter: Record<string, unknown>, update: { $set?: Record<string, unknown>, $unset?: Record<string, unknown>, $inc?: Record<string, number> }): Promise<Doc | null> {
    const found = [...this.docs.values()].find(d => matches(d, filter))
    if (found === undefined) return null
    for (const [k, v] of Object.entries(update.$set ?? {})) found[k] = structuredClone(v)
    for (const k of Object.keys(update.$unset ?? {})) delete found[k]
    for (const [k, v] of Object.entries(update.$inc ?? {})) found[k] = (found[k] as number) + v
    return structuredClone(found)
  }

  async deleteOne (filter: Record<string, unknown>): Promise<{ deletedCount: number }> {
    const found = [...this.docs.values()].find(d => matches(d, filter))
    if (found === undefined) return { deletedCount: 0 }
    this.docs.delete(found._id)
    return { deletedCount: 1 }
  }

  find (filter: Record<string, unknown>): { sort: () => { toArray: () => Promise<Doc[]>, limit: (n: number) => { toArray: () => Promise<Doc[]> } } } {
    const docs = [...this.docs.values()].filter(d => matches(d, filter)).sort((a, b) => a._id < b._id ? -1 : a._id > b._id ? 1 : 0).map(d => structuredClone(d))
    return { sort: () => ({ toArray: async () => docs, limit: (n: number) => ({ toArray: async () => docs.slice(0, n) }) }) }
  }

  async countDocuments (filter: Record<string, unknown>): Promise<number> {
    return [...this.docs.values()].filter(d => matches(d, filter)).length
  }

  /** Raw access, to plant foreign documents. */
  raw (doc: Doc): void { this.docs.set(doc._id, doc) }
}

export class FakeMongoClient {
  private readonly collections = new Map<string, FakeCollection>()

  async connect (): Promise<this> { return this }
  async close (): Promise<void> {}

  db (): { collection: (name: string) => FakeCollection, command: () => Promise<{ ok: 1 }> } {
    return {
      collection: (name: string) => {
        let c = this.collections.get(name)
        if (c === undefined) this.collections.set(name, c = new FakeCollection())
        return c
      },
      command: async () => ({ ok: 1 })
    }
  }
}

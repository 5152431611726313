/**
 * StoragePort on MongoDB (the official driver), safe for several broker replicas sharing one database:
 * records are documents keyed by their OSB id (`_id`, unique), create is an insert (a duplicate key is the
 * port's RecordExistsError), and every change is a conditional update on `version`, so of two replicas
 * racing on one record exactly one wins. Documents carry `schemaVersion`; documents of an unknown version or
 * shape (foreign data in the collection) are skipped with a log line, never a crash.
 * `timeoutMs` bounds server selection, connecting, socket inactivity and each operation (`maxTimeMS`).
 */
import {
  type Collection, type Document, type Filter, type UpdateFilter, MongoClient, MongoError, MongoNetworkError,
  MongoServerError, MongoServerSelectionError
} from 'mongodb'
import { type LoggerPort, silentLogger } from '../../ports/logger-port.js'
import {
  type BindingRecord, type InstanceRecord, type NewRecord, type RecordChanges, type StoragePort, type StoredFields,
  RecordExistsError, StorageError, StorageUnavailableError, VersionConflictError
} from '../../ports/storage-port.js'

export const SCHEMA_VERSION = 1

export interface MongoStorageOptions {
  uri: string
  database: string
  /** Collection name prefix: `<prefix>_instances` and `<prefix>_bindings`. */
  collection: string
  timeoutMs: number
  logger?: LoggerPort
  /** A client to use instead of one built from `uri` (tests without a mongod stand the driver in). */
  client?: MongoClient
}

type Doc = Document & { _id: string, schemaVersion?: unknown, version?: unknown }

const REQUIRED: Record<'instance' | 'binding', string[]> = {
  instance: ['state', 'lastOperation', 'serviceId', 'planId', 'cluster', 'database', 'version'],
  binding: ['state', 'lastOperation', 'instanceId', 'serviceId', 'planId', 'username', 'roles', 'cluster', 'database', 'version']
}

/** Driver errors → port errors, once. */
export function toStorageError (err: unknown, during: string): StorageError {
  if (err instanceof StorageError) return err
  if (err instanceof MongoServerError && err.code === 11000) return new RecordExistsError(`${during}: the record already exists`, { cause: err })
  const unavailable = err instanceof MongoNetworkError || err instanceof MongoServerSelectionError ||
    (err instanceof MongoServerError && (err.code === 50 /* MaxTimeMSExpired */ || err.code === 91 /* ShutdownInProgress */ || err.code === 189 /* PrimarySteppedDown */)) ||
    (err instanceof MongoError && /timed out|timeout/i.test(err.message))
  const message = err instanceof Error ? err.message : String(err)
  if (unavailable) return new StorageUnavailableError(`MongoDB is unreachable during ${during}: ${message}`, { cause: err })
  return new StorageError(`MongoDB failed during ${during}: ${message}`, { cause: err })
}

class RecordCollection<T extends StoredFields> {
  private readonly collection: Collection<Doc>
  private readonly kind: 'instance' | 'binding'
  private readonly timeoutMs: number
  private readonly logger: LoggerPort

  constructor (collection: Collection<Doc>, kind: 'instance' | 'binding', timeoutMs: number, logger: LoggerPort) {
    this.collection = collection
    this.kind = kind
    this.timeoutMs = timeoutMs
    this.logger = logger
  }

  /** The record of a document, or undefined (with a log line) for a document this version cannot read. */
  toRecord (doc: Doc | null): T | undefined {
    if (doc === null) return undefined
    if (doc.schemaVersion !== SCHEMA_VERSION || REQUIRED[this.kind].some(field => doc[field] === undefined)) {
      this.logger.warn({ kind: this.kind, id: String(doc._id), schemaVersion: doc.schemaVersion }, 'skipping a document of an unknown schema version or shape')
      return undefined
    }
    const { _id, schemaVersion: _schema, ...rest } = doc
    return { ...rest, id: _id } as unknown as T
  }

  async create (record: NewRecord<T>): Promise<T> {
    const at = new Date().toISOString()
    const { id, ...fields } = record as NewRecord<T> & { id: string }
    const doc: Doc = { _id: id, schemaVersion: SCHEMA_VERSION, ...withoutUndefined(fields), version: 1, createdAt: at, updatedAt: at }
    try {
      await this.collection.insertOne(doc, { maxTimeMS: this.timeoutMs })
    } catch (err) {
      throw toStorageError(err, `create ${this.kind} ${id}`)
    }
    return this.toRecord(doc)!
  }

  async get (id: string): Promise<T | undefined> {
    try {
      return this.toRecord(await this.collection.findOne({ _id: id }, { maxTimeMS: this.timeoutMs }))
    } catch (err) {
      throw toStorageError(err, `read ${this.kind} ${id}`)
    }
  }

  async update (id: string, expectedVersion: number, changes: RecordChanges<T>): Promise<T> {
    const set: Document = { updatedAt: new Date().toISOString() }
    const unset: Document = {}
    for (const [key, value] of Object.entries(changes)) {
      if (key === 'id' || key === 'version' || key === 'createdAt' || key === 'updatedAt') continue
      if (value === undefined) unset[key] = ''
      else set[key] = value
    }
    const update: UpdateFilter<Doc> = { $set: set, $inc: { version: 1 }, ...(Object.keys(unset).length === 0 ? {} : { $unset: unset }) }
    let doc: Doc | null
    try {
      doc = await this.collection.findOneAndUpdate(
        { _id: id, version: expectedVersion, schemaVersion: SCHEMA_VERSION } as Filter<Doc>, update,
        { returnDocument: 'after', maxTimeMS: this.timeoutMs }
      )
    } catch (err) {
      throw toStorageError(err, `update ${this.kind} ${id}`)
    }
    const record = this.toRecord(doc)
    if (record === undefined) throw new VersionConflictError(`${this.kind} ${id} changed since it was read`)
    return record
  }

  async delete (id: string, expectedVersion: number): Promise<void> {
    try {
      const { deletedCount } = await this.collection.deleteOne({ _id: id, version: expectedVersion }, { maxTimeMS: this.timeoutMs })
      if (deletedCount === 1) return
      const still = await this.collection.findOne({ _id: id }, { maxTimeMS: this.timeoutMs, projection: { version: 1 } })
      if (still !== null) throw new VersionConflictError(`${this.kind} ${id} changed since it was read`)
    } catch (err) {
      throw toStorageError(err, `delete ${this.kind} ${id}`)
    }
  }

  /** Records with an operation in progress. */
  async count (): Promise<number> {
    try {
      return await this.collection.countDocuments({ schemaVersion: SCHEMA_VERSION, 'lastOperation.state': 'in progress', state: { $ne: 'deleted' } } as Filter<Doc>, { maxTimeMS: this.timeoutMs })
    } catch (err) {
      throw toStorageError(err, `count ${this.kind}s`)
    }
  }

  /** Records matching `filter` in id order, `pageSize` at a time (a range query per page, so memory stays bounded). */
  async * pages (filter: Filter<Doc>, pageSize: number): AsyncIterable<T[]> {
    let after: string | undefined
    for (;;) {
      let docs: Doc[]
      try {
        docs = await this.collection.find({ ...filter, schemaVersion: SCHEMA_VERSION, ...(after === undefined ? {} : { _id: { $gt: after } }) } as Filter<Doc>, { maxTimeMS: this.timeoutMs })
          .sort({ _id: 1 }).limit(pageSize).toArray()
      } catch (err) {
        throw toStorageError(err, `list ${this.kind}s`)
      }
      const page = docs.map(doc => this.toRecord(doc)).filter((r): r is T => r !== undefined)
      if (page.length > 0) yield page
      if (docs.length < pageSize) return
      after = String(docs[docs.length - 1]!._id)
    }
  }

  async find (filter: Filter<Doc>): Promise<T[]> {
    try {
      const docs = await this.collection.find({ ...filter, schemaVersion: SCHEMA_VERSION }, { maxTimeMS: this.timeoutMs }).sort({ _id: 1 }).toArray()
      return docs.map(doc => this.toRecord(doc)).filter((r): r is T => r !== undefined)
    } catch (err) {
      throw toStorageError(err, `list ${this.kind}s`)
    }
  }
}

export class MongoStorage implements StoragePort {
  private readonly client: MongoClient
  private readonly instances: RecordCollection<InstanceRecord>
  private readonly bindings: RecordCollection<BindingRecord>
  private readonly options: MongoStorageOptions

  private constructor (client: MongoClient, options: MongoStorageOptions) {
    this.client = client
    this.options = options
    const db = client.db(options.database)
    const logger = options.logger ?? silentLogger
    this.instances = new RecordCollection(db.collection<Doc>(`${options.collection}_instances`), 'instance', options.timeoutMs, logger)
    this.bindings = new RecordCollection(db.collection<Doc>(`${options.collection}_bindings`), 'binding', options.timeoutMs, logger)
  }

  /** Connects and creates the indexes (idempotent). Fails with StorageUnavailableError when MongoDB cannot be reached in time. */
  static async connect (options: MongoStorageOptions): Promise<MongoStorage> {
    const t = options.timeoutMs
    const client = options.client ?? new MongoClient(options.uri, {
      serverSelectionTimeoutMS: t, connectTimeoutMS: t, socketTimeoutMS: t, waitQueueTimeoutMS: t, appName: 'atlas-broker', retryWrites: true
    })
    const storage = new MongoStorage(client, options)
    try {
      await client.connect()
      const db = client.db(options.database)
      await db.collection(`${options.collection}_bindings`).createIndex({ instanceId: 1, state: 1 }, { name: 'instance_state' })
      await db.collection(`${options.collection}_instances`).createIndex({ cluster: 1, database: 1, state: 1 }, { name: 'cluster_database_state' })
    } catch (err) {
      await client.close().catch(() => undefined)
      throw toStorageError(err, 'start-up')
    }
    return storage
  }

  async createInstance (record: NewRecord<InstanceRecord>): Promise<InstanceRecord> { return await this.instances.create(record) }
  async getInstance (id: string): Promise<InstanceRecord | undefined> { return await this.instances.get(id) }
  async updateInstance (id: string, expectedVersion: number, changes: RecordChanges<InstanceRecord>): Promise<InstanceRecord> {
    return await this.instances.update(id, expectedVersion, changes)
  }

  async deleteInstance (id: string, expectedVersion: number): Promise<void> { await this.instances.delete(id, expectedVersion) }

  async createBinding (record: NewRecord<BindingRecord>): Promise<BindingRecord> { return await this.bindings.create(record) }
  async getBinding (id: string): Promise<BindingRecord | undefined> { return await this.bindings.get(id) }
  async updateBinding (id: string, expectedVersion: number, changes: RecordChanges<BindingRecord>): Promise<BindingRecord> {
    return await this.bindings.update(id, expectedVersion, changes)
  }

  async deleteBinding (id: string, expectedVersion: number): Promise<void> { await this.bindings.delete(id, expectedVersion) }

  async listBindings (instanceId: string): Promise<BindingRecord[]> {
    return await this.bindings.find({ instanceId, state: { $ne: 'deleted' } })
  }

  async * liveBindingPages (pageSize = 500): AsyncIterable<BindingRecord[]> {
    yield * this.bindings.pages({ state: { $ne: 'deleted' } } as Filter<Doc>, pageSize)
  }

  async listInstancesUsingDatabase (cluster: string, database: string): Promise<InstanceRecord[]> {
    return await this.instances.find({ cluster, database, state: { $ne: 'deleted' } })
  }

  async countOperationsInProgress (): Promise<number> {
    return await this.instances.count() + await this.bindings.count()
  }

  async ping (): Promise<void> {
    try {
      await this.client.db(this.options.database).command({ ping: 1, maxTimeMS: this.options.timeoutMs })
    } catch (err) {
      throw toStorageError(err, 'ping')
    }
  }

  async close (): Promise<void> {
    await this.client.close()
  }
}

function withoutUndefined (fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined))
}

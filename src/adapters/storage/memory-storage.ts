/**
 * In-memory StoragePort for tests and local mode. Single-process only: every method works on copies,
 * create is an atomic create-if-absent and updates are conditional on `version`, exactly as the port says.
 */
import {
  type BindingRecord, type InstanceRecord, type NewRecord, type RecordChanges, type StoragePort, type StoredFields,
  RecordExistsError, VersionConflictError
} from '../../ports/storage-port.js'
import { TombstoneText } from './tombstone-text.js'

/**
 * Records by id, plus one secondary index (ids by `indexKey`), so the lookups the broker makes on every bind,
 * unbind and deprovision cost the same with 30,000 records as with none. Deleted tombstones are kept as short
 * text (`TombstoneText`), outside the index: the store keeps every one of them (a repeated DELETE or a late
 * poll must find it), and as text one takes about a tenth of the memory it takes as objects. The queries
 * (`withKey`, `pages`, `count`) therefore see live records only, which is all the broker ever asks them for.
 */
class Collection<T extends StoredFields> {
  private readonly records = new Map<string, T | string>()
  private readonly byKey = new Map<string, Set<string>>()
  private readonly tombstones = new TombstoneText()
  private readonly kind: string
  private readonly indexKey: (record: T) => string
  constructor (kind: string, indexKey: (record: T) => string) {
    this.kind = kind
    this.indexKey = indexKey
  }

  /** The stored record: the live object itself, or a tombstone unpacked afresh from its text. */
  private read (id: string): T | undefined {
    const found = this.records.get(id)
    return typeof found === 'string' ? this.tombstones.unpack<T>(found) : found
  }

  /** A copy of a stored record, for callers (an unpacked tombstone is one already). */
  private copy (found: T | string): T {
    return typeof found === 'string' ? this.tombstones.unpack<T>(found) : structuredClone(found)
  }

  private live (id: string): T | undefined {
    const found = this.records.get(id)
    return typeof found === 'string' ? undefined : found
  }

  private put (stored: T): void {
    const previous = this.live(stored.id)
    if (previous !== undefined) this.unindex(previous)
    if (stored.state === 'deleted') {
      this.records.set(stored.id, this.tombstones.pack(stored))
      return
    }
    this.records.set(stored.id, stored)
    const key = this.indexKey(stored)
    let ids = this.byKey.get(key)
    if (ids === undefined) this.byKey.set(key, ids = new Set())
    ids.add(stored.id)
  }

  private unindex (record: T): void {
    const key = this.indexKey(record)
    const ids = this.byKey.get(key)
    ids?.delete(record.id)
    if (ids?.size === 0) this.byKey.delete(key)
  }

  create (record: NewRecord<T>): T {
    if (this.records.has(record.id)) throw new RecordExistsError(`${this.kind} ${record.id} already exists`)
    const at = new Date().toISOString()
    const stored = { ...structuredClone(record), version: 1, createdAt: at, updatedAt: at } as T
    this.put(stored)
    return structuredClone(stored)
  }

  get (id: string): T | undefined {
    const found = this.records.get(id)
    return found === undefined ? undefined : this.copy(found)
  }

  update (id: string, expectedVersion: number, changes: RecordChanges<T>): T {
    const current = this.read(id)
    if (current === undefined || current.version !== expectedVersion) {
      throw new VersionConflictError(`${this.kind} ${id} changed since it was read`)
    }
    const next = { ...current } as Record<string, unknown>
    for (const [key, value] of Object.entries(structuredClone(changes))) {
      if (key === 'id' || key === 'version' || key === 'createdAt' || key === 'updatedAt') continue
      if (value === undefined) delete next[key]
      else next[key] = value
    }
    next.version = current.version + 1
    next.updatedAt = new Date().toISOString()
    this.put(next as T)
    return structuredClone(next as T)
  }

  delete (id: string, expectedVersion: number): void {
    const current = this.read(id)
    if (current === undefined) return
    if (current.version !== expectedVersion) throw new VersionConflictError(`${this.kind} ${id} changed since it was read`)
    if (current.state !== 'deleted') this.unindex(current)
    this.records.delete(id)
  }

  /** Copies of the live records whose index key is `key` and that satisfy `predicate`. */
  withKey (key: string, predicate: (record: T) => boolean): T[] {
    const found: T[] = []
    for (const id of this.byKey.get(key) ?? []) {
      const record = this.live(id)
      if (record !== undefined && predicate(record)) found.push(structuredClone(record))
    }
    return found
  }

  /** Copies of the live records satisfying `predicate`, in id order, a page at a time. */
  * pages (predicate: (record: T) => boolean, pageSize: number): Generator<T[]> {
    const ids = [...this.records.keys()].sort()
    for (let start = 0; start < ids.length; start += pageSize) {
      const page: T[] = []
      for (const id of ids.slice(start, start + pageSize)) {
        const record = this.live(id)
        if (record !== undefined && predicate(record)) page.push(structuredClone(record))
      }
      if (page.length > 0) yield page
    }
  }

  /** Every record, tombstones included, in the order they were created. */
  all (): T[] {
    return [...this.records.values()].map(record => this.copy(record))
  }

  /** How many live records satisfy `predicate`. */
  count (predicate: (record: T) => boolean): number {
    let n = 0
    for (const record of this.records.values()) if (typeof record !== 'string' && predicate(record)) n++
    return n
  }

}

export class MemoryStorage implements StoragePort {
  // JSON of [cluster, database]: no separator a name could contain.
  private readonly instances = new Collection<InstanceRecord>('instance', i => JSON.stringify([i.cluster, i.database]))
  private readonly bindings = new Collection<BindingRecord>('binding', b => b.instanceId)

  async createInstance (record: NewRecord<InstanceRecord>): Promise<InstanceRecord> { return this.instances.create(record) }
  async getInstance (id: string): Promise<InstanceRecord | undefined> { return this.instances.get(id) }
  async updateInstance (id: string, expectedVersion: number, changes: RecordChanges<InstanceRecord>): Promise<InstanceRecord> {
    return this.instances.update(id, expectedVersion, changes)
  }

  async deleteInstance (id: string, expectedVersion: number): Promise<void> { this.instances.delete(id, expectedVersion) }

  async createBinding (record: NewRecord<BindingRecord>): Promise<BindingRecord> { return this.bindings.create(record) }
  async getBinding (id: string): Promise<BindingRecord | undefined> { return this.bindings.get(id) }
  async updateBinding (id: string, expectedVersion: number, changes: RecordChanges<BindingRecord>): Promise<BindingRecord> {
    return this.bindings.update(id, expectedVersion, changes)
  }

  async deleteBinding (id: string, expectedVersion: number): Promise<void> { this.bindings.delete(id, expectedVersion) }
  async listBindings (instanceId: string): Promise<BindingRecord[]> {
    return this.bindings.withKey(instanceId, b => b.state !== 'deleted')
  }

  async * liveBindingPages (pageSize = 500): AsyncIterable<BindingRecord[]> {
    yield * this.bindings.pages(b => b.state !== 'deleted', pageSize)
  }

  async listInstancesUsingDatabase (cluster: string, database: string): Promise<InstanceRecord[]> {
    return this.instances.withKey(JSON.stringify([cluster, database]), i => i.state !== 'deleted')
  }

  async countOperationsInProgress (): Promise<number> {
    const inProgress = (r: StoredFields): boolean => r.lastOperation.state === 'in progress' && r.state !== 'deleted'
    return this.instances.count(inProgress) + this.bindings.count(inProgress)
  }

  /** Every record, for tests and debugging (a 4xx must leave this unchanged). */
  snapshot (): { instances: InstanceRecord[], bindings: BindingRecord[] } {
    return { instances: this.instances.all(), bindings: this.bindings.all() }
  }

  async ping (): Promise<void> {}
  async close (): Promise<void> {}
}

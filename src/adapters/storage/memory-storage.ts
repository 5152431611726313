/**
 * In-memory StoragePort for tests and local mode. Single-process only: every method works on copies,
 * create is an atomic create-if-absent and updates are conditional on `version`, exactly as the port says.
 */
import {
  type BindingRecord, type InstanceRecord, type NewRecord, type RecordChanges, type StoragePort, type StoredFields,
  RecordExistsError, VersionConflictError
} from '../../ports/storage-port.js'

class Collection<T extends StoredFields> {
  private readonly records = new Map<string, T>()
  private readonly kind: string
  constructor (kind: string) { this.kind = kind }

  create (record: NewRecord<T>): T {
    if (this.records.has(record.id)) throw new RecordExistsError(`${this.kind} ${record.id} already exists`)
    const at = new Date().toISOString()
    const stored = { ...structuredClone(record), version: 1, createdAt: at, updatedAt: at } as T
    this.records.set(record.id, stored)
    return structuredClone(stored)
  }

  get (id: string): T | undefined {
    const found = this.records.get(id)
    return found === undefined ? undefined : structuredClone(found)
  }

  update (id: string, expectedVersion: number, changes: RecordChanges<T>): T {
    const current = this.records.get(id)
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
    this.records.set(id, next as T)
    return structuredClone(next as T)
  }

  delete (id: string, expectedVersion: number): void {
    const current = this.records.get(id)
    if (current === undefined) return
    if (current.version !== expectedVersion) throw new VersionConflictError(`${this.kind} ${id} changed since it was read`)
    this.records.delete(id)
  }

  all (): T[] {
    return [...this.records.values()].map(record => structuredClone(record))
  }

  filter (predicate: (record: T) => boolean): T[] {
    return [...this.records.values()].filter(predicate).map(record => structuredClone(record))
  }
}

export class MemoryStorage implements StoragePort {
  private readonly instances = new Collection<InstanceRecord>('instance')
  private readonly bindings = new Collection<BindingRecord>('binding')

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
    return this.bindings.filter(b => b.instanceId === instanceId && b.state !== 'deleted')
  }

  async listInstancesUsingDatabase (cluster: string, database: string): Promise<InstanceRecord[]> {
    return this.instances.filter(i => i.cluster === cluster && i.database === database && i.state !== 'deleted')
  }

  async countOperationsInProgress (): Promise<number> {
    const inProgress = (r: StoredFields): boolean => r.lastOperation.state === 'in progress' && r.state !== 'deleted'
    return this.instances.filter(inProgress).length + this.bindings.filter(inProgress).length
  }

  /** Every record, for tests and debugging (a 4xx must leave this unchanged). */
  snapshot (): { instances: InstanceRecord[], bindings: BindingRecord[] } {
    return { instances: this.instances.all(), bindings: this.bindings.all() }
  }

  async ping (): Promise<void> {}
  async close (): Promise<void> {}
}

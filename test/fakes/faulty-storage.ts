/** MemoryStorage with failure injection: the next call of a method throws the given port error. */
import { MemoryStorage } from '../../src/adapters/storage/memory-storage.js'
import type { StoragePort } from '../../src/ports/storage-port.js'

type Method = keyof StoragePort

export class FaultyStorage extends MemoryStorage {
  private readonly failures = new Map<Method, Error[]>()
  private readonly before = new Map<Method, Array<() => Promise<unknown>>>()

  /** Runs `action` (to completion) just before the next call of `method`: orders races deterministically. */
  beforeNext (method: Method, action: () => Promise<unknown>): void {
    const queue = this.before.get(method) ?? []
    queue.push(action)
    this.before.set(method, queue)
  }

  private async runBefore (method: Method): Promise<void> {
    const action = this.before.get(method)?.shift()
    if (action !== undefined) await action().catch(() => undefined)
  }

  failNext (method: Method, err: Error): void {
    const queue = this.failures.get(method) ?? []
    queue.push(err)
    this.failures.set(method, queue)
  }

  private check (method: Method): void {
    const err = this.failures.get(method)?.shift()
    if (err !== undefined) throw err
  }

  override async createBinding (...args: Parameters<MemoryStorage['createBinding']>): ReturnType<MemoryStorage['createBinding']> {
    await this.runBefore('createBinding'); this.check('createBinding'); return await super.createBinding(...args)
  }

  override async updateBinding (...args: Parameters<MemoryStorage['updateBinding']>): ReturnType<MemoryStorage['updateBinding']> {
    await this.runBefore('updateBinding'); this.check('updateBinding'); return await super.updateBinding(...args)
  }

  override async deleteBinding (...args: Parameters<MemoryStorage['deleteBinding']>): ReturnType<MemoryStorage['deleteBinding']> {
    this.check('deleteBinding'); return await super.deleteBinding(...args)
  }

  override async getInstance (...args: Parameters<MemoryStorage['getInstance']>): ReturnType<MemoryStorage['getInstance']> {
    this.check('getInstance'); return await super.getInstance(...args)
  }

  override async createInstance (...args: Parameters<MemoryStorage['createInstance']>): ReturnType<MemoryStorage['createInstance']> {
    this.check('createInstance'); return await super.createInstance(...args)
  }

  override async updateInstance (...args: Parameters<MemoryStorage['updateInstance']>): ReturnType<MemoryStorage['updateInstance']> {
    this.check('updateInstance'); return await super.updateInstance(...args)
  }
}

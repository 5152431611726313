/**
 * A StoragePort that lives in another process, for crash tests: `serveStorage` exposes a store over loopback
 * HTTP (one POST per port method, JSON arguments), and `RemoteStorage` is the broker-side client. The store
 * outlives a broker process killed with SIGKILL, as MongoDB would; each call is applied whole or not at all,
 * and a call cut off by the kill may or may not have been applied, as with a real database.
 */
import { createServer, type Server } from 'node:http'
import {
  type BindingRecord, RecordExistsError, StorageError, StorageUnavailableError, VersionConflictError, type StoragePort
} from '../../src/ports/storage-port.js'

type Method = Exclude<keyof StoragePort, 'close'>

const METHODS: ReadonlySet<string> = new Set<Method>([
  'createInstance', 'getInstance', 'updateInstance', 'deleteInstance', 'createBinding', 'getBinding', 'updateBinding',
  'deleteBinding', 'listBindings', 'liveBindingPages', 'listInstancesUsingDatabase', 'countOperationsInProgress', 'ping'
])

/** Calls a port method; a paged one answers all its pages at once (tests hold few records). */
async function invoke (storage: StoragePort, method: Method, args: unknown[]): Promise<unknown> {
  if (method === 'liveBindingPages') {
    const pages: unknown[] = []
    for await (const page of storage.liveBindingPages(...(args as [number?]))) pages.push(page)
    return pages
  }
  return await (storage[method] as (...a: unknown[]) => Promise<unknown>).apply(storage, args)
}

interface Answer { ok?: unknown, error?: { code: string, message: string } }

/**
 * `{ leaseUntil: undefined }` in an update means "remove the field"; JSON would drop the key, so undefined
 * values travel as a marker and are restored on the other side.
 */
const UNDEFINED = '\u0000undefined'
const encode = (value: unknown): string => JSON.stringify(value, (key, v: unknown) => (v === undefined && key !== '' ? UNDEFINED : v))
function restore (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(restore)
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = v === UNDEFINED ? undefined : restore(v)
    return out
  }
  return value
}

/** Serves `storage` on 127.0.0.1; resolves with its URL and a closer. */
export async function serveStorage (storage: StoragePort): Promise<{ url: string, close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const method = (req.url ?? '').slice(1)
      const reply = (answer: Answer): void => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer))
      }
      if (!METHODS.has(method)) { reply({ error: { code: 'STORAGE_ERROR', message: `no method ${method}` } }); return }
      const args = restore(JSON.parse(Buffer.concat(chunks).toString('utf8'))) as unknown[]
      const call = invoke(storage, method as Method, args)
      call.then(
        value => reply({ ok: value === undefined ? null : value }),
        (err: unknown) => reply({ error: { code: err instanceof StorageError ? err.code : 'STORAGE_ERROR', message: err instanceof Error ? err.message : String(err) } })
      )
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

function toPortError (code: string, message: string): StorageError {
  switch (code) {
    case 'STORAGE_RECORD_EXISTS': return new RecordExistsError(message)
    case 'STORAGE_VERSION_CONFLICT': return new VersionConflictError(message)
    case 'STORAGE_UNAVAILABLE': return new StorageUnavailableError(message)
    default: return new StorageError(message)
  }
}

/** The client half: every port method is one HTTP call to `serveStorage`. */
export class RemoteStorage implements StoragePort {
  private readonly url: string
  constructor (url: string) { this.url = url }

  private async call<T> (method: Method, args: unknown[]): Promise<T> {
    let answer: Answer
    try {
      const r = await fetch(`${this.url}/${method}`, { method: 'POST', body: encode(args), signal: AbortSignal.timeout(5000) })
      answer = await r.json() as Answer
    } catch (err) {
      throw new StorageUnavailableError(`storage process unreachable: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    if (answer.error !== undefined) throw toPortError(answer.error.code, answer.error.message)
    return (answer.ok === null ? undefined : answer.ok) as T
  }

  createInstance: StoragePort['createInstance'] = async (...args) => await this.call('createInstance', args)
  getInstance: StoragePort['getInstance'] = async (...args) => await this.call('getInstance', args)
  updateInstance: StoragePort['updateInstance'] = async (...args) => await this.call('updateInstance', args)
  deleteInstance: StoragePort['deleteInstance'] = async (...args) => { await this.call('deleteInstance', args) }
  createBinding: StoragePort['createBinding'] = async (...args) => await this.call('createBinding', args)
  getBinding: StoragePort['getBinding'] = async (...args) => await this.call('getBinding', args)
  updateBinding: StoragePort['updateBinding'] = async (...args) => await this.call('updateBinding', args)
  deleteBinding: StoragePort['deleteBinding'] = async (...args) => { await this.call('deleteBinding', args) }
  listBindings: StoragePort['listBindings'] = async (...args) => await this.call('listBindings', args)
  async * liveBindingPages (pageSize?: number): AsyncIterable<BindingRecord[]> {
    yield * await this.call<BindingRecord[][]>('liveBindingPages', pageSize === undefined ? [] : [pageSize])
  }

  listInstancesUsingDatabase: StoragePort['listInstancesUsingDatabase'] = async (...args) => await this.call('listInstancesUsingDatabase', args)
  countOperationsInProgress: StoragePort['countOperationsInProgress'] = async () => await this.call('countOperationsInProgress', [])
  ping: StoragePort['ping'] = async () => { await this.call('ping', []) }
  async close (): Promise<void> {}
}

/**
 * Prometheus metrics (prom-client): OSB requests by operation and status with latency, Atlas calls by
 * operation and outcome with latency and retries, async operations in flight (read from storage at scrape
 * time, so it is the same on every replica), storage errors, plus Node's process metrics.
 */
import { type FastifyInstance } from 'fastify'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { StorageError, type StoragePort } from '../../ports/storage-port.js'

const OSB_OPERATIONS: Record<string, string> = {
  'GET /v2/catalog': 'catalog',
  'PUT /v2/service_instances/:instance_id': 'provision',
  'PATCH /v2/service_instances/:instance_id': 'update',
  'DELETE /v2/service_instances/:instance_id': 'deprovision',
  'GET /v2/service_instances/:instance_id': 'fetch_instance',
  'GET /v2/service_instances/:instance_id/last_operation': 'last_operation',
  'PUT /v2/service_instances/:instance_id/service_bindings/:binding_id': 'bind',
  'DELETE /v2/service_instances/:instance_id/service_bindings/:binding_id': 'unbind',
  'GET /v2/service_instances/:instance_id/service_bindings/:binding_id': 'fetch_binding',
  'GET /v2/service_instances/:instance_id/service_bindings/:binding_id/last_operation': 'binding_last_operation'
}

/** `/groups/<id>/clusters/<name>/status` → `clusters/{name}/status`, so labels stay few. */
export function atlasOperation (method: string, path: string): string {
  const bare = path.split('?')[0] ?? ''
  const parts = bare.split('/').filter(p => p !== '')
  const named = parts.map((part, i) => {
    const previous = parts[i - 1]
    if (previous === 'groups') return '{group}'
    if (previous === 'clusters' || previous === 'flexClusters') return part === 'provider' ? part : '{name}'
    if (previous === 'databaseUsers') return '{db}'
    if (parts[i - 2] === 'databaseUsers') return '{user}'
    return part
  })
  return `${method} /${named.join('/')}`
}

export class BrokerMetrics {
  readonly registry = new Registry()
  private readonly osbRequests: Counter
  private readonly osbLatency: Histogram
  private readonly atlasCalls: Counter
  private readonly atlasLatency: Histogram
  private readonly atlasRetries: Counter
  private readonly storageErrors: Counter

  constructor () {
    collectDefaultMetrics({ register: this.registry })
    const registers = [this.registry]
    this.osbRequests = new Counter({ name: 'atlas_broker_osb_requests_total', help: 'OSB requests by operation and HTTP status', labelNames: ['operation', 'status'], registers })
    this.osbLatency = new Histogram({ name: 'atlas_broker_osb_request_duration_seconds', help: 'OSB request latency', labelNames: ['operation'], buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60], registers })
    this.atlasCalls = new Counter({ name: 'atlas_broker_atlas_requests_total', help: 'Atlas API HTTP exchanges by operation and outcome', labelNames: ['operation', 'outcome'], registers })
    this.atlasLatency = new Histogram({ name: 'atlas_broker_atlas_request_duration_seconds', help: 'Atlas API exchange latency', labelNames: ['operation'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers })
    this.atlasRetries = new Counter({ name: 'atlas_broker_atlas_retries_total', help: 'Atlas API exchanges that were retries', labelNames: ['operation'], registers })
    this.storageErrors = new Counter({ name: 'atlas_broker_storage_errors_total', help: 'Storage calls that failed, by method and error code', labelNames: ['method', 'code'], registers })
  }

  /** Records every OSB request's operation, status and latency. */
  observeHttp (app: FastifyInstance): void {
    // Label children are cached: resolving label values on every request costs more than the counting.
    const counters = new Map<string, ReturnType<Counter['labels']>>()
    const histograms = new Map<string, ReturnType<Histogram['labels']>>()
    app.addHook('onResponse', (request, reply, done) => {
      const operation = OSB_OPERATIONS[`${request.method} ${request.routeOptions.url ?? ''}`]
      if (operation !== undefined) {
        const key = `${operation} ${reply.statusCode}`
        let counter = counters.get(key)
        if (counter === undefined) counters.set(key, counter = this.osbRequests.labels(operation, String(reply.statusCode)))
        counter.inc()
        let histogram = histograms.get(operation)
        if (histogram === undefined) histograms.set(operation, histogram = this.osbLatency.labels(operation))
        histogram.observe(reply.elapsedTime / 1000)
      }
      done()
    })
  }

  /** The Atlas client's exchange observer. */
  readonly onAtlasExchange = (event: { method: string, path: string, status: number | undefined, attempt: number, ms: number }): void => {
    const operation = atlasOperation(event.method, event.path)
    const outcome = event.status === undefined ? 'network_error' : `${Math.floor(event.status / 100)}xx`
    this.atlasCalls.inc({ operation, outcome })
    this.atlasLatency.observe({ operation }, event.ms / 1000)
    if (event.attempt > 0) this.atlasRetries.inc({ operation })
  }

  /** A StoragePort that counts its failures; also feeds the in-flight gauge from it. */
  instrumentStorage (storage: StoragePort): StoragePort {
    const errors = this.storageErrors
    new Gauge({
      name: 'atlas_broker_async_operations_in_flight',
      help: 'Instances and bindings with an operation in progress',
      registers: [this.registry],
      async collect () {
        try {
          this.set(await storage.countOperationsInProgress())
        } catch {
          // The storage error counter records it; the gauge keeps its last value.
        }
      }
    })
    return new Proxy(storage, {
      get (target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver)
        if (typeof value !== 'function') return value
        return async (...args: unknown[]) => {
          try {
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)
          } catch (err) {
            // Lost races (exists, version conflict) are normal flow, not failures.
            if (err instanceof StorageError && err.code !== 'STORAGE_RECORD_EXISTS' && err.code !== 'STORAGE_VERSION_CONFLICT') {
              errors.inc({ method: String(property), code: err.code })
            }
            throw err
          }
        }
      }
    })
  }

  async render (): Promise<{ contentType: string, body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}

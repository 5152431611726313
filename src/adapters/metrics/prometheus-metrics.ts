/**
 * Prometheus metrics (prom-client): OSB requests by operation and status with latency, Atlas calls by
 * operation and outcome with latency and retries, async operations in flight (read from storage at scrape
 * time, so it is the same on every replica), storage errors, plus Node's process metrics.
 */
import { type FastifyInstance, type onResponseHookHandler } from 'fastify'
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

const OSB_LATENCY_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60]

/** One OSB operation's counts: requests by status, and latency in non-cumulative buckets (last = +Inf). */
class OperationStats {
  readonly byStatus = new Map<number, number>()
  readonly buckets = new Float64Array(OSB_LATENCY_BUCKETS.length + 1)
  sum = 0
  count = 0

  observe (status: number, seconds: number): void {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1)
    let i = 0
    while (i < OSB_LATENCY_BUCKETS.length && seconds > OSB_LATENCY_BUCKETS[i]!) i++
    this.buckets[i]!++
    this.sum += seconds
    this.count++
  }
}

/**
 * The OSB request counter and latency histogram, kept as plain numbers and written in Prometheus's text
 * format at scrape time. They sit on every request's path, where prom-client's label validation and
 * hashing per observation cost more than serving the catalog's bytes; the output is the same as
 * prom-client's (names, label order, cumulative buckets).
 */
export class OsbRequestMetrics {
  private readonly operations = new Map<string, OperationStats>()

  /** The stats one route records into (created once, at route registration). */
  forOperation (operation: string): OperationStats {
    let stats = this.operations.get(operation)
    if (stats === undefined) this.operations.set(operation, stats = new OperationStats())
    return stats
  }

  render (): string {
    const requests = ['# HELP atlas_broker_osb_requests_total OSB requests by operation and HTTP status', '# TYPE atlas_broker_osb_requests_total counter']
    const latency = ['# HELP atlas_broker_osb_request_duration_seconds OSB request latency', '# TYPE atlas_broker_osb_request_duration_seconds histogram']
    for (const [operation, stats] of this.operations) {
      if (stats.count === 0) continue
      for (const [status, n] of stats.byStatus) requests.push(`atlas_broker_osb_requests_total{operation="${operation}",status="${status}"} ${n}`)
      let cumulative = 0
      OSB_LATENCY_BUCKETS.forEach((bound, i) => {
        cumulative += stats.buckets[i]!
        latency.push(`atlas_broker_osb_request_duration_seconds_bucket{le="${bound}",operation="${operation}"} ${cumulative}`)
      })
      latency.push(`atlas_broker_osb_request_duration_seconds_bucket{le="+Inf",operation="${operation}"} ${stats.count}`)
      latency.push(`atlas_broker_osb_request_duration_seconds_sum{operation="${operation}"} ${stats.sum}`)
      latency.push(`atlas_broker_osb_request_duration_seconds_count{operation="${operation}"} ${stats.count}`)
    }
    return `${requests.join('\n')}\n\n${latency.join('\n')}\n`
  }
}

export class BrokerMetrics {
  readonly registry = new Registry()
  private readonly osb = new OsbRequestMetrics()
  private readonly atlasCalls: Counter
  private readonly atlasLatency: Histogram
  private readonly atlasRetries: Counter
  private readonly storageErrors: Counter
  private readonly authFailures: Counter
  private readonly atlasUp: Gauge
  private readonly digestNonceReuse: Gauge

  constructor () {
    collectDefaultMetrics({ register: this.registry })
    const registers = [this.registry]
    this.atlasCalls = new Counter({ name: 'atlas_broker_atlas_requests_total', help: 'Atlas API HTTP exchanges by operation and outcome', labelNames: ['operation', 'outcome'], registers })
    this.atlasLatency = new Histogram({ name: 'atlas_broker_atlas_request_duration_seconds', help: 'Atlas API exchange latency', labelNames: ['operation'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers })
    this.atlasRetries = new Counter({ name: 'atlas_broker_atlas_retries_total', help: 'Atlas API exchanges that were retries', labelNames: ['operation'], registers })
    this.storageErrors = new Counter({ name: 'atlas_broker_storage_errors_total', help: 'Storage calls that failed, by method and error code', labelNames: ['method', 'code'], registers })
    this.authFailures = new Counter({ name: 'atlas_broker_auth_failures_total', help: 'Failed broker logins: delayed (401 after a pause) or limited (429)', labelNames: ['outcome'], registers })
    this.atlasUp = new Gauge({ name: 'atlas_broker_atlas_up', help: '1 while Atlas answers the broker (last exchange or probe), 0 while it cannot be reached', registers })
    this.atlasUp.set(1)
    this.digestNonceReuse = new Gauge({ name: 'atlas_broker_atlas_digest_nonce_reuse', help: '1 while digest nonces are reused across calls, 0 once Atlas refused one (a fresh challenge per request)', registers })
    this.digestNonceReuse.set(1)
  }

  readonly onDigestReuseRefused = (): void => {
    this.digestNonceReuse.set(0)
  }

  readonly onAuthFailure = (outcome: 'delayed' | 'limited'): void => {
    this.authFailures.inc({ outcome })
  }

  /** Atlas reachability, as the AtlasReachability tracker reports it. */
  readonly onAtlasReachability = (up: boolean): void => {
    this.atlasUp.set(up ? 1 : 0)
  }

  /**
   * Records every OSB request's operation, status and latency. Call before the OSB routes are registered:
   * each route gets its own onResponse hook with its operation name fixed, so nothing is looked up per request.
   */
  observeHttp (app: FastifyInstance): void {
    app.addHook('onRoute', route => {
      const methods = Array.isArray(route.method) ? route.method : [route.method]
      const operation = methods.length === 1 ? OSB_OPERATIONS[`${methods[0] ?? ''} ${route.url}`] : undefined
      if (operation === undefined) return
      const stats = this.osb.forOperation(operation)
      const hook: onResponseHookHandler = (_request, reply, done) => {
        stats.observe(reply.statusCode, reply.elapsedTime / 1000)
        done()
      }
      const existing = route.onResponse
      route.onResponse = existing === undefined ? [hook] : Array.isArray(existing) ? [...existing, hook] : [existing, hook]
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
    return { contentType: this.registry.contentType, body: `${this.osb.render()}\n${await this.registry.metrics()}` }
  }
}

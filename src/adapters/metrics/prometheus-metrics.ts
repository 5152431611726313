/**
 * Prometheus metrics in the text format, kept as plain numbers and written out at scrape time (no client
 * library: it cost about 12 MB of every replica's memory): OSB requests by operation and status with
 * latency, Atlas calls by operation and outcome with latency and retries, async operations in flight (read
 * from storage at scrape time, so it is the same on every replica), storage errors, login failures, Atlas
 * reachability, plus Node's process metrics under the usual names.
 */
import type { FastifyInstance, onResponseHookHandler } from 'fastify'
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
 * format at scrape time. They sit on every request's path, where a client library's label validation and
 * hashing per observation cost more than serving the catalog's bytes; the output is what prom-client
 * writes (names, label order, cumulative buckets).
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

/** Label values escaped as Prometheus's text format wants them. */
function escape (value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

function labels (names: readonly string[], values: readonly string[], extra = ''): string {
  const parts = names.map((name, i) => `${name}="${escape(values[i] ?? '')}"`)
  if (extra !== '') parts.unshift(extra)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

/** A counter by label values, written out at scrape time. */
class PlainCounter {
  private readonly values = new Map<string, { labels: string[], n: number }>()
  private readonly name: string
  private readonly help: string
  private readonly labelNames: readonly string[]
  constructor (name: string, help: string, labelNames: readonly string[]) {
    this.name = name
    this.help = help
    this.labelNames = labelNames
  }

  inc (...labelValues: string[]): void {
    const key = labelValues.join('\u0000')
    const entry = this.values.get(key)
    if (entry === undefined) this.values.set(key, { labels: labelValues, n: 1 })
    else entry.n++
  }

  render (): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`]
    for (const { labels: values, n } of this.values.values()) lines.push(`${this.name}${labels(this.labelNames, values)} ${n}`)
    return lines.join('\n')
  }
}

/** A gauge without labels. */
class PlainGauge {
  value: number
  private readonly name: string
  private readonly help: string
  constructor (name: string, help: string, initial = 0) {
    this.name = name
    this.help = help
    this.value = initial
  }

  render (): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${this.value}`].join('\n')
  }
}

/** A histogram by one label, with prom-client's output (cumulative `le` buckets, sum, count). */
class PlainHistogram {
  private readonly series = new Map<string, { buckets: Float64Array, sum: number, count: number }>()
  private readonly name: string
  private readonly help: string
  private readonly labelName: string
  private readonly bounds: readonly number[]
  constructor (name: string, help: string, labelName: string, bounds: readonly number[]) {
    this.name = name
    this.help = help
    this.labelName = labelName
    this.bounds = bounds
  }

  observe (labelValue: string, seconds: number): void {
    let entry = this.series.get(labelValue)
    if (entry === undefined) this.series.set(labelValue, entry = { buckets: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 })
    let i = 0
    while (i < this.bounds.length && seconds > this.bounds[i]!) i++
    entry.buckets[i]!++
    entry.sum += seconds
    entry.count++
  }

  render (): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`]
    for (const [value, entry] of this.series) {
      let cumulative = 0
      this.bounds.forEach((bound, i) => {
        cumulative += entry.buckets[i]!
        lines.push(`${this.name}_bucket${labels([this.labelName], [value], `le="${bound}"`)} ${cumulative}`)
      })
      lines.push(`${this.name}_bucket${labels([this.labelName], [value], 'le="+Inf"')} ${entry.count}`)
      lines.push(`${this.name}_sum${labels([this.labelName], [value])} ${entry.sum}`)
      lines.push(`${this.name}_count${labels([this.labelName], [value])} ${entry.count}`)
    }
    return lines.join('\n')
  }
}

const STARTED_SECONDS = Math.round(Date.now() / 1000 - process.uptime())

/** Node's process metrics under the names Prometheus's Node clients use (CPU, memory, heap, handles, event loop). */
function processMetrics (): string {
  const cpu = process.cpuUsage()
  const memory = process.memoryUsage()
  const loop = performance.eventLoopUtilization()
  const metric = (name: string, type: 'counter' | 'gauge', help: string, value: number): string => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}`
  return [
    metric('process_cpu_user_seconds_total', 'counter', 'Total user CPU time spent in seconds.', cpu.user / 1e6),
    metric('process_cpu_system_seconds_total', 'counter', 'Total system CPU time spent in seconds.', cpu.system / 1e6),
    metric('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', (cpu.user + cpu.system) / 1e6),
    metric('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', STARTED_SECONDS),
    metric('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', memory.rss),
    metric('nodejs_heap_size_total_bytes', 'gauge', 'Process heap size from Node.js in bytes.', memory.heapTotal),
    metric('nodejs_heap_size_used_bytes', 'gauge', 'Process heap size used from Node.js in bytes.', memory.heapUsed),
    metric('nodejs_external_memory_bytes', 'gauge', 'Node.js external memory size in bytes.', memory.external),
    metric('nodejs_eventloop_utilization_ratio', 'gauge', 'Share of time the event loop was busy since the process started.', Math.round(loop.utilization * 1e6) / 1e6),
    metric('nodejs_version_info', 'gauge', `Node.js version ${process.version}.`, 1).replace(/ 1$/, `{version="${process.version}"} 1`)
  ].join('\n\n')
}

export class BrokerMetrics {
  private readonly osb = new OsbRequestMetrics()
  private readonly atlasCalls = new PlainCounter('atlas_broker_atlas_requests_total', 'Atlas API HTTP exchanges by operation and outcome', ['operation', 'outcome'])
  private readonly atlasLatency = new PlainHistogram('atlas_broker_atlas_request_duration_seconds', 'Atlas API exchange latency', 'operation', [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
  private readonly atlasRetries = new PlainCounter('atlas_broker_atlas_retries_total', 'Atlas API exchanges that were retries', ['operation'])
  private readonly storageErrors = new PlainCounter('atlas_broker_storage_errors_total', 'Storage calls that failed, by method and error code', ['method', 'code'])
  private readonly authFailures = new PlainCounter('atlas_broker_auth_failures_total', 'Failed broker logins: delayed (401 after a pause) or limited (429)', ['outcome'])
  private readonly atlasUp = new PlainGauge('atlas_broker_atlas_up', '1 while Atlas answers the broker (last exchange or probe), 0 while it cannot be reached', 1)
  private readonly digestNonceReuse = new PlainGauge('atlas_broker_atlas_digest_nonce_reuse', '1 while digest nonces are reused across calls, 0 once Atlas refused one (a fresh challenge per request)', 1)
  private readonly inFlight = new PlainGauge('atlas_broker_async_operations_in_flight', 'Instances and bindings with an operation in progress')
  private inFlightSource: StoragePort | undefined

  readonly onDigestReuseRefused = (): void => {
    this.digestNonceReuse.value = 0
  }

  readonly onAuthFailure = (outcome: 'delayed' | 'limited'): void => {
    this.authFailures.inc(outcome)
  }

  /** Atlas reachability, as the AtlasReachability tracker reports it. */
  readonly onAtlasReachability = (up: boolean): void => {
    this.atlasUp.value = up ? 1 : 0
  }

  /** Records one OSB operation's answers given outside Fastify's routes (the catalog's fast lane). */
  operationObserver (operation: string): (status: number, seconds: number) => void {
    const stats = this.osb.forOperation(operation)
    return (status, seconds) => { stats.observe(status, seconds) }
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
    this.atlasCalls.inc(operation, outcome)
    this.atlasLatency.observe(operation, event.ms / 1000)
    if (event.attempt > 0) this.atlasRetries.inc(operation)
  }

  /**
   * A StoragePort that counts its failures; the in-flight gauge is read from it at scrape time. Methods that
   * answer without a promise (the paged listings) pass through unchanged.
   */
  instrumentStorage (storage: StoragePort): StoragePort {
    const errors = this.storageErrors
    this.inFlightSource = storage
    const count = (property: string | symbol, err: unknown): void => {
      // Lost races (exists, version conflict) are normal flow, not failures.
      if (err instanceof StorageError && err.code !== 'STORAGE_RECORD_EXISTS' && err.code !== 'STORAGE_VERSION_CONFLICT') errors.inc(String(property), err.code)
    }
    return new Proxy(storage, {
      get (target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver)
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args)
          if (!(result instanceof Promise)) return result
          return result.catch((err: unknown) => { count(property, err); throw err })
        }
      }
    })
  }

  async render (): Promise<{ contentType: string, body: string }> {
    if (this.inFlightSource !== undefined) {
      // The storage error counter records a failure; the gauge keeps its last value.
      this.inFlight.value = await this.inFlightSource.countOperationsInProgress().catch(() => this.inFlight.value)
    }
    const ours = [this.atlasCalls, this.atlasLatency, this.atlasRetries, this.storageErrors, this.authFailures, this.atlasUp, this.digestNonceReuse, this.inFlight]
    return {
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      body: `${this.osb.render()}\n${ours.map(m => m.render()).join('\n\n')}\n\n${processMetrics()}\n`
    }
  }
}

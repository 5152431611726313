/**
 * Builds the Fastify application around a ServiceBroker without listening (tests use `inject`; main.ts
 * listens). Request ids come from X-Broker-API-Request-Identity when the platform sends one.
 */
import { randomUUID } from 'node:crypto'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify'
import type { ChildLoggerOptions, Logger } from 'pino'
import { lazyChildLoggerFactory } from './logger.js'
import { registerAccessLog } from '../adapters/http/access-log.js'
import { catalogFastPathApplies, installCatalogFastPath } from '../adapters/http/catalog-fast-path.js'
import { clientErrorHandler, registerErrorHandling } from '../adapters/http/error-handler.js'
import { healthRoutes, type ReadinessCheck } from '../adapters/http/health-routes.js'
import type { BrokerMetrics } from '../adapters/metrics/prometheus-metrics.js'
import { type BrokerCredentials, REQUEST_IDENTITY_HEADER, registerOsbHooks } from '../adapters/http/osb-hooks.js'
import { catalogBytes, osbRoutes } from '../adapters/http/osb-routes.js'
import { type CompiledCounts, ROUTE_AJV_OPTIONS } from '../adapters/http/precompiled-schemas.js'
import type { ServiceBroker } from '../ports/service-broker.js'

/** Request ids: a random per-process prefix and a counter (a UUID per request costs more than it gives). */
const ID_PREFIX = randomUUID().slice(0, 8)
let requestCounter = 0

export interface BuildAppOptions {
  broker: ServiceBroker
  credentials: BrokerCredentials
  logger: Logger
  /** Largest accepted request body in bytes (413 above it). */
  bodyLimit?: number
  /** What /readyz checks (none: always ready). */
  readiness?: ReadinessCheck[]
  /** Serve /metrics (behind broker auth unless `public`). */
  metrics?: { metrics: BrokerMetrics, public: boolean }
  /** Serve HTTPS directly with this certificate and key (PEM). */
  tls?: { cert: Buffer, key: Buffer }
  /** Proxies whose X-Forwarded-For is believed: a hop count or their addresses/CIDRs (never every hop). */
  trustProxy?: false | number | string[]
  /** Failed basic-auth attempts per (client, username) and minute before 429. */
  authFailuresPerMinute?: number
  /** Longest pause before answering a failed login (default 2 s). */
  maxAuthDelayMs?: number
  /** Answer the ordinary catalog request before Fastify's pipeline (catalog-fast-path.ts); default true. */
  catalogFastPath?: boolean
  /**
   * Compilers of the route schemas (precompiled-schemas.ts: the build's precompiled ones); Fastify's own by
   * default. With `counts`, how many came from where is logged at debug once the app is ready.
   */
  routeSchemas?: { schemaController: NonNullable<FastifyServerOptions['schemaController']>, counts?: CompiledCounts }
}

/**
 * Fastify's trustProxy. A hop count becomes "trust the nearest n hops" (as Express does; Fastify 5 itself
 * trusts nothing for a bare number); addresses/CIDRs are passed on. Never `true`.
 */
function trustProxyOption (value: false | number | string[]): false | string[] | ((address: string, hop: number) => boolean) {
  if (typeof value === 'number') return (_address: string, hop: number) => hop < value
  return value
}

export async function buildApp (options: BuildAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.tls === undefined ? {} : { https: { cert: options.tls.cert, key: options.tls.key } }),
    trustProxy: trustProxyOption(options.trustProxy ?? false),
    loggerInstance: options.logger as FastifyBaseLogger,
    childLoggerFactory: (logger, bindings, childOptions) =>
      lazyChildLoggerFactory(logger as unknown as Logger, bindings, childOptions as ChildLoggerOptions) as unknown as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    requestIdHeader: REQUEST_IDENTITY_HEADER,
    // Platforms' X-Broker-API-Request-Identity is the id when sent; otherwise a process-unique one.
    genReqId: () => `${ID_PREFIX}-${(++requestCounter).toString(36)}`,
    // One access-log line per request (registerAccessLog) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    requestTimeout: 58_000,
    clientErrorHandler,
    ajv: { customOptions: { ...ROUTE_AJV_OPTIONS } },
    ...(options.routeSchemas === undefined ? {} : { schemaController: options.routeSchemas.schemaController })
  })
  const counts = options.routeSchemas?.counts
  if (counts !== undefined) {
    app.addHook('onReady', async () => {
      app.log.debug({ ...counts }, 'route schemas: precompiled by the build, and compiled at start-up')
    })
  }

  registerErrorHandling(app)
  registerAccessLog(app)
  await registerOsbHooks(app, options.credentials, {
    ...(options.authFailuresPerMinute === undefined ? {} : { authFailuresPerMinute: options.authFailuresPerMinute }),
    ...(options.maxAuthDelayMs === undefined ? {} : { maxAuthDelayMs: options.maxAuthDelayMs }),
    ...(options.metrics === undefined ? {} : { onAuthFailure: options.metrics.metrics.onAuthFailure })
  })
  await app.register(healthRoutes, { checks: options.readiness ?? [] })
  if (options.metrics !== undefined) {
    const { metrics } = options.metrics
    metrics.observeHttp(app)
    app.get('/metrics', { config: { versionless: true, public: options.metrics.public }, logLevel: 'warn' }, async (_request, reply) => {
      const { contentType, body } = await metrics.render()
      return await reply.type(contentType).send(body)
    })
  }
  const catalog = catalogBytes(options.broker)
  await app.withTypeProvider<TypeBoxTypeProvider>().register(osbRoutes, { broker: options.broker, catalog })
  if (options.catalogFastPath !== false && catalogFastPathApplies(app)) {
    installCatalogFastPath(app, {
      credentials: options.credentials,
      catalogBytes: catalog,
      ...(options.metrics === undefined ? {} : { observe: options.metrics.metrics.operationObserver('catalog') })
    })
  }
  return app
}

/**
 * `serve`: parse the configuration once, compose the broker, listen, and stop cleanly on SIGTERM/SIGINT
 * (stop accepting, finish in-flight requests within a bound, close Atlas and storage). The environment is
 * passed in by the entry points (main.ts, cli.ts), the only modules that read process.env.
 */
import { type Logger, pino } from 'pino'
import { composeBroker } from './compose.js'
import { loadConfig } from './config.js'
import { EXIT, expectedFailure } from './failures.js'
import { startIdleCollection } from './idle-collection.js'
import { loggerOptions } from './logger.js'

const SHUTDOWN_BOUND_MS = 25_000

/** Ends start-up: an expected failure in one sentence (and one log line, no stack), anything else with its stack. */
function stopOn (err: unknown, log?: { logger: Logger, flush: () => void }, where: { port?: number, host?: string } = {}): never {
  const expected = expectedFailure(err, where)
  if (expected === undefined) {
    log?.logger.fatal({ err }, 'start-up failed')
    log?.flush()
    console.error(`atlas-broker: start-up failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    process.exit(EXIT.failed)
  }
  log?.logger.fatal({ reason: expected.message }, 'start-up failed')
  log?.flush()
  console.error(`atlas-broker: ${expected.message}`)
  process.exit(expected.code)
}

export async function serve (env: Record<string, string | undefined>): Promise<void> {
  let config
  try {
    config = loadConfig(env)
  } catch (err) {
    stopOn(err)
  }
  // Log lines are written asynchronously (off the request path) and flushed before every exit, so none is lost.
  const destination = pino.destination({ dest: 1, sync: false })
  const logger = pino(loggerOptions(config.logLevel), destination)
  const log = { logger, flush: () => { destination.flushSync() } }
  let running
  let address: string
  try {
    running = await composeBroker(config, logger)
  } catch (err) {
    stopOn(err, log)
  }
  try {
    address = await running.app.listen({ port: config.port, host: config.host })
  } catch (err) {
    await running.close().catch(() => undefined)
    stopOn(err, log, { port: config.port, host: config.host })
  }
  if (config.localMode) {
    logger.warn({ simulator: running.simulatorUrl }, 'LOCAL MODE (LOCAL_MODE=true): using the built-in Atlas simulator, not Atlas. Not for production.')
    const { username, password } = running.credentials
    const shown = config.broker.password === undefined ? password : '<BROKER_PASSWORD>'
    const url = address.replace('0.0.0.0', '127.0.0.1')
    process.stdout.write([
      '',
      `Atlas Broker is running in LOCAL MODE (simulated Atlas${config.mongo === undefined ? ', in-memory state' : ''}; not for production).`,
      `  broker URL:      ${url}`,
      `  basic auth:      ${username} / ${shown}`,
      `  Atlas simulator: ${running.simulatorUrl ?? ''} (seeded with cluster Cluster0)`,
      '  try:',
      `    curl -s -u '${username}:${shown}' -H 'X-Broker-API-Version: 2.17' ${url}/v2/catalog`,
      '',
      ''
    ].join('\n'))
  }
  // Memory back to the system whenever the broker goes quiet (where node runs with --expose-gc, as in the image).
  const mb = (bytes: number): number => Math.round(bytes / 2 ** 20 * 10) / 10
  const stopIdleCollection = startIdleCollection(({ rssBeforeBytes, rssAfterBytes, ms }) => {
    logger.debug({ rssBeforeMb: mb(rssBeforeBytes), rssAfterMb: mb(rssAfterBytes), ms: Math.round(ms) }, 'idle: memory given back')
  })
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    stopIdleCollection?.()
    logger.info({ signal }, 'shutting down')
    // In-flight requests get up to SHUTDOWN_BOUND_MS to finish; then the process exits regardless.
    const force = setTimeout(() => { log.flush(); process.exit(1) }, SHUTDOWN_BOUND_MS)
    force.unref()
    // Keep-alive connections that go idle after close() began would otherwise hold it open until their
    // keep-alive timeout: close them as they go idle.
    const idle = setInterval(() => running.app.server.closeIdleConnections(), 100)
    idle.unref()
    running.close().then(() => {
      logger.info('stopped')
      log.flush()
      process.exit(0)
    }, (err: unknown) => {
      logger.error({ err }, 'error during shutdown')
      log.flush()
      process.exit(1)
    })
  }
  process.once('SIGTERM', () => stop('SIGTERM'))
  process.once('SIGINT', () => stop('SIGINT'))
}


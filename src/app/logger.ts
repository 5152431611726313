/**
 * pino options for the broker. Secrets never reach a log line: Authorization headers, passwords,
 * credentials objects and keys are redacted wherever they appear at the depths we log.
 */
import type { Bindings, ChildLoggerOptions, Logger, LoggerOptions } from 'pino'

export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'password',
  '*.password',
  '*.*.password',
  'credentials',
  '*.credentials',
  'credentialsSecret',
  '*.credentialsSecret',
  'privateKey',
  '*.privateKey',
  '*.*.privateKey',
  'clientSecret',
  '*.clientSecret',
  '*.*.clientSecret',
  'sealedPassword',
  '*.sealedPassword',
  'uri',
  '*.uri',
  'access_token',
  '*.access_token'
]

export function loggerOptions (level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'atlas-broker' }
  }
}

type LogFn = (...args: unknown[]) => void

/** A request's logger that becomes a real pino child on the first line it writes (or the first child). */
class LazyLogger {
  private real: Logger | undefined
  private readonly parent: Logger
  private readonly bindings: Bindings
  private readonly options: ChildLoggerOptions
  private readonly threshold: number

  constructor (parent: Logger, bindings: Bindings, options: ChildLoggerOptions) {
    this.parent = parent
    this.bindings = bindings
    this.options = options
    this.threshold = parent.levels.values[options.level ?? parent.level] ?? 30
  }

  private get logger (): Logger {
    return (this.real ??= this.parent.child(this.bindings, this.options))
  }

  get level (): string { return this.logger.level }
  set level (value: string) { this.logger.level = value }
  isLevelEnabled (level: string): boolean { return (this.parent.levels.values[level] ?? 0) >= this.threshold }
  child (bindings: Bindings, options?: ChildLoggerOptions): Logger { return this.logger.child(bindings, options) }
  silent (): void {}
  fatal (...args: unknown[]): void { this.write(60, 'fatal', args) }
  error (...args: unknown[]): void { this.write(50, 'error', args) }
  warn (...args: unknown[]): void { this.write(40, 'warn', args) }
  info (...args: unknown[]): void { this.write(30, 'info', args) }
  debug (...args: unknown[]): void { this.write(20, 'debug', args) }
  trace (...args: unknown[]): void { this.write(10, 'trace', args) }

  private write (value: number, level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace', args: unknown[]): void {
    if (value >= this.threshold) (this.logger[level] as LogFn)(...args)
  }
}

/**
 * Fastify's per-request child logger, created only when something is logged at an enabled level: a pino
 * child with redaction costs more per request than serving the catalog, and at `warn` most requests log
 * nothing. Same behaviour, same output; just later.
 */
export function lazyChildLoggerFactory (parent: Logger, bindings: Bindings, options: ChildLoggerOptions): Logger {
  return new LazyLogger(parent, bindings, options) as unknown as Logger
}

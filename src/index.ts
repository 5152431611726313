/**
 * The package's programmatic API, for those who embed the broker (python-atlasbroker's
 * `Broker(Config(...)).run()`): `await (await createBroker({ ...settings }, { policy })).listen()`.
 * Settings use the environment variables' names (see the README's configuration table); nothing here reads
 * `process.env`.
 */
import type { FastifyInstance } from 'fastify'
import { type Logger, pino } from 'pino'
import { type ComposeOverrides, composeBroker } from './app/compose.js'
import { loadConfig } from './app/config.js'
import type { ConfigSchema } from './app/config-schema.js'
import { loggerOptions } from './app/logger.js'

/** Settings by environment-variable name, e.g. `{ ATLAS_PROJECT_ID: '…', BROKER_USERNAME: '…' }`. */
export type BrokerSettingsInput = Partial<Record<keyof typeof ConfigSchema.properties, string>>

export interface CreateBrokerOptions extends ComposeOverrides {
  /** A pino logger; default: JSON to stdout at LOG_LEVEL, with secrets redacted. */
  logger?: Logger
}

export interface Broker {
  /** The Fastify application (for `inject` in tests, or to add routes). */
  app: FastifyInstance
  /** The basic-auth credentials in force (generated in local mode when none were given). */
  credentials: { username: string, password: string }
  /** Local mode only: the built-in Atlas simulator's URL. */
  simulatorUrl?: string
  /** Starts listening (PORT/HOST unless given); returns the address. */
  listen: (options?: { port?: number, host?: string }) => Promise<string>
  /** Stops listening, finishes in-flight requests, and closes Atlas, storage and (local mode) the simulator. */
  close: () => Promise<void>
}

export async function createBroker (settings: BrokerSettingsInput = {}, options: CreateBrokerOptions = {}): Promise<Broker> {
  const config = loadConfig(settings)
  const logger = options.logger ?? pino(loggerOptions(config.logLevel))
  const running = await composeBroker(config, logger, options)
  return {
    app: running.app,
    credentials: running.credentials,
    ...(running.simulatorUrl === undefined ? {} : { simulatorUrl: running.simulatorUrl }),
    listen: async (listenOptions = {}) => await running.app.listen({ port: listenOptions.port ?? config.port, host: listenOptions.host ?? config.host }),
    close: running.close
  }
}

export { type Config, ConfigError, loadConfig } from './app/config.js'
export { ConfigSchema } from './app/config-schema.js'
export { defaultCatalog, DEDICATED_PLAN_IDS, SEED_PLAN_ID, SEED_SERVICE_ID } from './app/default-catalog.js'
export { type BrokerCatalog, type BrokerPlan, type BrokerService, type PlanSettings } from './domain/catalog.js'
export { defaultPolicy } from './domain/default-policy.js'
export { AtlasSimulator, type SimulatorOptions } from './adapters/atlas/simulator/atlas-simulator.js'
export {
  type BindingFacts, type CredentialFacts, type InstanceData, type InstanceFacts, type PasswordFacts, type Policy, type PolicyHook,
  type PolicyPlugin, type PolicyTools, PolicyError, PolicyLoadError, PolicyRefusal
} from './ports/policy-port.js'
export {
  AsyncRequiredError, BadRequestError, BindingConflictError, BindingGoneError, BindingNotFoundError, BrokerError, BrokerMisconfiguredError, ConcurrencyError,
  InstanceConflictError, InstanceGoneError, InstanceNotFoundError, InternalError, MaintenanceInfoConflictError, ServiceUnavailableError,
  UnprocessableError, UpstreamError, type ServiceBroker
} from './ports/service-broker.js'
export {
  AtlasAccessError, AtlasAuthError, AtlasError, AtlasIpNotAllowedError, AtlasPermissionError, AtlasRateLimitedError, AtlasRequestError, AtlasUnavailableError, ClusterNotFoundError,
  DatabaseUserExistsError, DatabaseUserNotFoundError, DuplicateClusterNameError, ProjectNotFoundError, TerminationProtectedError
} from './ports/atlas-port.js'
export { RecordExistsError, StorageError, StorageUnavailableError, VersionConflictError, type StoragePort } from './ports/storage-port.js'

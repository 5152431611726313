/** Builds the real broker over fakes, and the HTTP app around it, for tests. */
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { AjvParameterValidator } from '../../src/adapters/validation/ajv-parameter-validator.js'
import { type BuildAppOptions, buildApp } from '../../src/app/build-app.js'
import { defaultCatalog, SEED_PLAN_ID, SEED_SERVICE_ID } from '../../src/app/default-catalog.js'
import { loggerOptions } from '../../src/app/logger.js'
import type { BrokerCatalog } from '../../src/domain/catalog.js'
import { AtlasBroker, type BrokerSettings } from '../../src/domain/broker.js'
import { defaultPolicy } from '../../src/domain/default-policy.js'
import type { AtlasPort } from '../../src/ports/atlas-port.js'
import type { DatabaseAdminPort } from '../../src/ports/database-admin-port.js'
import { silentLogger } from '../../src/ports/logger-port.js'
import type { Policy } from '../../src/ports/policy-port.js'
import type { StoragePort } from '../../src/ports/storage-port.js'
import { FakeAtlas } from '../fakes/fake-atlas.js'
import { FaultyStorage } from '../fakes/faulty-storage.js'

export const SERVICE_ID = SEED_SERVICE_ID
export const PLAN_ID = SEED_PLAN_ID
export const BROKER_USER = 'broker-user'
export const BROKER_PASS = 'broker-password-123'
export const SECRET = 'test-credentials-secret-0123456789abcdef'

export const settings: BrokerSettings = {
  credentialsSecret: SECRET,
  defaultCluster: 'Cluster0',
  userPropagationTimeoutMs: 2000,
  userPropagationPollMs: 10,
  operationBudgetMs: 10_000,
  leaseMs: 30_000
}

export interface TestBroker<A extends AtlasPort = FakeAtlas, S extends StoragePort = FaultyStorage> {
  broker: AtlasBroker
  atlas: A
  storage: S
}

export function makeBroker<A extends AtlasPort = FakeAtlas, S extends StoragePort = FaultyStorage> (overrides: {
  atlas?: A
  storage?: S
  policy?: Policy
  catalog?: BrokerCatalog
  settings?: Partial<BrokerSettings>
  now?: () => number
  databaseAdmin?: DatabaseAdminPort
} = {}): TestBroker<A, S> {
  const atlas = overrides.atlas ?? new FakeAtlas() as unknown as A
  const storage = overrides.storage ?? new FaultyStorage() as unknown as S
  const broker = new AtlasBroker({
    catalog: overrides.catalog ?? defaultCatalog,
    atlas,
    storage,
    policy: overrides.policy ?? defaultPolicy,
    validator: new AjvParameterValidator(),
    logger: silentLogger,
    settings: { ...settings, ...overrides.settings },
    ...(overrides.now === undefined ? {} : { now: overrides.now }),
    ...(overrides.databaseAdmin === undefined ? {} : { databaseAdmin: overrides.databaseAdmin })
  })
  return { broker, atlas, storage }
}

/** A pino logger that keeps every line, for redaction tests. */
export function captureLogger (level = 'trace'): { logger: pino.Logger, lines: string[] } {
  const lines: string[] = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) { lines.push(chunk.toString('utf8')); done() }
  })
  return { logger: pino(loggerOptions(level), stream), lines }
}

export interface TestApp extends TestBroker {
  app: FastifyInstance
  logLines: string[]
}

export async function makeApp (
  t: { teardown: (fn: () => unknown) => void }, overrides: Parameters<typeof makeBroker>[0] = {}, appOptions: Partial<BuildAppOptions> = {}
): Promise<TestApp> {
  const made = makeBroker<FakeAtlas, FaultyStorage>(overrides as Parameters<typeof makeBroker<FakeAtlas, FaultyStorage>>[0])
  const { logger, lines } = captureLogger()
  const app = await buildApp({ broker: made.broker, credentials: { username: BROKER_USER, password: BROKER_PASS }, logger, ...appOptions })
  t.teardown(() => app.close())
  return { ...made, app, logLines: lines }
}

export const AUTH = `Basic ${Buffer.from(`${BROKER_USER}:${BROKER_PASS}`).toString('base64')}`

export function headers (extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: AUTH, 'x-broker-api-version': '2.17', 'content-type': 'application/json', ...extra }
}

export function provisionBody (extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { service_id: SERVICE_ID, plan_id: PLAN_ID, organization_guid: 'org-1', space_guid: 'space-1', ...extra }
}

export function bindBody (extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { service_id: SERVICE_ID, plan_id: PLAN_ID, ...extra }
}

export const DELETE_QUERY = `service_id=${SERVICE_ID}&plan_id=${PLAN_ID}`

/**
 * The composition root: the only place that picks adapters and wires them to the domain. server.ts calls it
 * with the parsed configuration; createBroker (src/index.ts), the CLI and tests call it too.
 */
import { createPrivateKey, type KeyObject, randomBytes, X509Certificate } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { HttpAtlasAdapter, type HttpAtlasAdapterOptions } from '../adapters/atlas/http-atlas-adapter.js'
import { AtlasReachability } from '../adapters/atlas/reachability.js'
import { loadPrecompiledSchemas, routeSchemaCompilers } from '../adapters/http/precompiled-schemas.js'
import { BrokerMetrics } from '../adapters/metrics/prometheus-metrics.js'
import { checkPlugin, composePolicy, loadPolicies } from '../adapters/policy/ts-policy-loader.js'
import { MemoryStorage } from '../adapters/storage/memory-storage.js'
import { AjvParameterValidator } from '../adapters/validation/ajv-parameter-validator.js'
import { AtlasBroker } from '../domain/broker.js'
import { type BrokerCatalog, planTarget, validateCatalog } from '../domain/catalog.js'
import { defaultPolicy } from '../domain/default-policy.js'
import type { AtlasOrgPort, AtlasTarget } from '../ports/atlas-port.js'
import type { DatabaseAdminPort } from '../ports/database-admin-port.js'
import type { Policy, PolicyPlugin } from '../ports/policy-port.js'
import type { StoragePort } from '../ports/storage-port.js'
import { buildApp } from './build-app.js'
import { USER_AGENT } from './version.js'
import { type Config, ConfigError } from './config.js'
import { DEFAULT_POLICIES_DIR } from './config-schema.js'
import { credentialsName } from './named-credentials.js'
import { defaultCatalog } from './default-catalog.js'

/** How often an otherwise idle broker checks that Atlas answers (for the atlas_broker_atlas_up metric). */
const ATLAS_PROBE_INTERVAL_MS = 30_000

export interface RunningBroker {
  app: FastifyInstance
  /** Basic-auth credentials in force (generated in local mode when none were configured). */
  credentials: { username: string, password: string }
  /** The simulator's URL in local mode. */
  simulatorUrl?: string
  close: () => Promise<void>
}

export function loadCatalog (config: Config, readFile: (path: string) => string = p => readFileSync(p, 'utf8')): BrokerCatalog {
  let catalog = defaultCatalog
  if (config.catalogFile !== undefined) {
    try {
      catalog = JSON.parse(readFile(config.catalogFile)) as BrokerCatalog
    } catch (err) {
      throw new ConfigError([`CATALOG_FILE: cannot read ${config.catalogFile} as JSON (${err instanceof Error ? err.message : String(err)})`])
    }
  }
  const problems = validateCatalog(catalog)
  if (problems.length > 0) throw new ConfigError(problems.map(p => `catalog: ${p}`))
  return catalog
}

/** What drops deprovisioned databases: only needed (and its driver only loaded) with DROP_DATABASE_ON_DEPROVISION. */
async function databaseAdmin (config: Config): Promise<{ databaseAdmin?: DatabaseAdminPort }> {
  if (!config.dropDatabaseOnDeprovision) return {}
  if (config.localMode) {
    const { SimulatedDatabaseAdmin } = await import('../adapters/database/simulated-database-admin.js')
    return { databaseAdmin: new SimulatedDatabaseAdmin() }
  }
  const { MongoDatabaseAdmin } = await import('../adapters/database/mongodb-database-admin.js')
  return { databaseAdmin: new MongoDatabaseAdmin({ timeoutMs: config.atlas.requestTimeoutMs }) }
}

type AtlasObservers = Pick<HttpAtlasAdapterOptions, 'onExchange' | 'onDigestReuseRefused'>

/** The Atlas adapter's settings from the configuration, for a target (the configured Atlas, or the local simulator). */
function atlasAdapter (config: Config, target: Pick<HttpAtlasAdapterOptions, 'baseUrl' | 'projectId' | 'credentials'>, observers: AtlasObservers): HttpAtlasAdapter {
  return new HttpAtlasAdapter({
    ...target,
    requestTimeoutMs: config.atlas.requestTimeoutMs,
    maxRetries: config.atlas.maxRetries,
    backoffBaseMs: config.atlas.retryBaseMs,
    defaultBudgetMs: config.operationBudgetMs,
    userAgent: USER_AGENT,
    ...observers
  })
}

/** The Atlas adapter for configured credentials (not local mode); a target names another project or named credentials. */
export function configuredAtlas (config: Config, observers: AtlasObservers = {}, target: AtlasTarget = {}): HttpAtlasAdapter {
  const credentials = target.credentials === undefined ? config.atlas.auth : config.atlas.named[credentialsName(target.credentials)]
  const projectId = target.projectId ?? config.atlas.projectId
  if (credentials === undefined || projectId === undefined) {
    throw new ConfigError([target.credentials === undefined ? 'ATLAS_*: no Atlas credentials configured' : `ATLAS_CREDENTIALS_*: no credentials named ${target.credentials}`])
  }
  return atlasAdapter(config, { baseUrl: config.atlas.baseUrl, projectId, credentials }, observers)
}

/** Every Atlas target the catalog's plans name (projects and named credentials), each once. */
export function catalogTargets (catalog: BrokerCatalog): AtlasTarget[] {
  const targets = new Map<string, AtlasTarget>()
  for (const service of catalog.services) {
    for (const plan of service.plans) {
      const target = planTarget(plan.atlas)
      if (target !== undefined) targets.set(targetKey(target), target)
    }
  }
  return [...targets.values()]
}

function targetKey (target: AtlasTarget): string {
  return JSON.stringify([target.projectId ?? '', target.credentials === undefined ? '' : credentialsName(target.credentials)])
}

/** Plans that name projects or credentials the configuration cannot serve: one problem each (start-up stops). */
function targetProblems (config: Config, catalog: BrokerCatalog): string[] {
  const problems: string[] = []
  for (const service of catalog.services) {
    for (const plan of service.plans) {
      const own = plan.atlas.kind === 'dedicated-cluster' ? plan.atlas.projectPerInstance : undefined
      if (own !== undefined && config.localMode) problems.push(`plan ${plan.name}: gives each instance its own Atlas project, but local mode serves one simulated project`)
      if (own?.credentials !== undefined && !config.localMode && config.atlas.named[credentialsName(own.credentials)] === undefined) {
        problems.push(`plan ${plan.name}: atlas.projectPerInstance.credentials ${own.credentials} is not configured (an organisation key: set ATLAS_CREDENTIALS_${own.credentials.toUpperCase().replace(/-/g, '_')}_PUBLIC_KEY and _PRIVATE_KEY, or add it to ATLAS_CREDENTIALS_FILE)`)
      }
      const target = planTarget(plan.atlas)
      if (target === undefined) continue
      if (config.localMode) problems.push(`plan ${plan.name}: names an Atlas project or credentials, but local mode serves one simulated project`)
      else if (target.credentials !== undefined && config.atlas.named[credentialsName(target.credentials)] === undefined) {
        problems.push(`plan ${plan.name}: atlas.credentials ${target.credentials} is not configured (set ATLAS_CREDENTIALS_${target.credentials.toUpperCase().replace(/-/g, '_')}_PUBLIC_KEY and _PRIVATE_KEY, or add it to ATLAS_CREDENTIALS_FILE)`)
      }
    }
  }
  return problems
}

/**
 * The TLS certificate and key, checked as a pair: each readable, each what its setting says (a swapped pair is
 * named as such), and the key the certificate's. Every problem is a ConfigError naming the file.
 */
export function readTls (files: { certFile: string, keyFile: string }): { cert: Buffer, key: Buffer } {
  const read = (name: string, file: string): Buffer => {
    try {
      return readFileSync(file)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      throw new ConfigError([`${name}: cannot read ${file} (${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code ?? err)})`])
    }
  }
  const cert = read('TLS_CERT_FILE', files.certFile)
  const key = read('TLS_KEY_FILE', files.keyFile)
  const asCertificate = (pem: Buffer): X509Certificate | undefined => { try { return new X509Certificate(pem) } catch { return undefined } }
  const asKey = (pem: Buffer): KeyObject | undefined => { try { return createPrivateKey(pem) } catch { return undefined } }
  const certificate = asCertificate(cert)
  const privateKey = asKey(key)
  if (certificate === undefined && privateKey === undefined && asKey(cert) !== undefined && asCertificate(key) !== undefined) {
    throw new ConfigError([`TLS_CERT_FILE/TLS_KEY_FILE: swapped: ${files.certFile} holds a private key and ${files.keyFile} a certificate`])
  }
  const problems: string[] = []
  if (certificate === undefined) problems.push(`TLS_CERT_FILE: ${files.certFile} is not a PEM certificate`)
  if (privateKey === undefined) problems.push(`TLS_KEY_FILE: ${files.keyFile} is not a PEM private key (or it is encrypted)`)
  if (certificate !== undefined && privateKey !== undefined && !certificate.checkPrivateKey(privateKey)) {
    problems.push(`TLS_KEY_FILE: ${files.keyFile} is not the private key of the certificate in ${files.certFile}`)
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return { cert, key }
}

/** POLICIES_DIR must exist unless it is the default folder (which a deployment may leave out). */
export function checkPoliciesDir (config: Config): void {
  if (config.policiesDir !== DEFAULT_POLICIES_DIR && !existsSync(config.policiesDir)) {
    throw new ConfigError([`POLICIES_DIR: folder ${config.policiesDir} does not exist`])
  }
}

export interface ComposeOverrides {
  /** A store to use instead of the configured one (tests; embedders with their own StoragePort). */
  storage?: StoragePort
  /** Hooks applied over the built-in policy and the policy files (embedders). */
  policy?: PolicyPlugin
}

export async function composeBroker (config: Config, logger: Logger, overrides: ComposeOverrides = {}): Promise<RunningBroker> {
  const catalog = loadCatalog(config)
  const tls = config.tls === undefined ? undefined : readTls(config.tls)
  checkPoliciesDir(config)
  const loaded = await loadPolicies(config.policiesDir, defaultPolicy)
  const { policy, sources } = overrides.policy === undefined
    ? loaded
    : composePolicy(loaded.policy, [{ file: 'createBroker options', plugin: checkPlugin('createBroker options', overrides.policy) }], loaded.sources)
  // As `hook: source` strings: keys such as `password` would be (rightly) redacted by the logger.
  logger.info({ policyHooks: Object.entries(sources).map(([hook, source]) => `${hook}: ${source}`) }, 'policy loaded')

  const closers: Array<() => Promise<void>> = []
  const metrics = new BrokerMetrics()
  let storage: StoragePort
  if (overrides.storage !== undefined) {
    storage = overrides.storage
  } else if (config.mongo !== undefined) {
    // Connect before anything else runs, so a MongoDB that cannot be reached stops start-up clearly.
    // The MongoDB driver is loaded only when the configuration uses MongoDB.
    const { MongoStorage } = await import('../adapters/storage/mongo-storage.js')
    const mongo = await MongoStorage.connect({ ...config.mongo, logger })
    logger.info({ database: config.mongo.database, collection: config.mongo.collection }, 'storage: MongoDB')
    storage = mongo
    closers.push(() => mongo.close())
  } else {
    if (config.mongoIgnored) logger.warn('local mode: MONGODB_URI is ignored (set LOCAL_MODE_MONGODB=true to keep local state there)')
    storage = new MemoryStorage()
    logger.warn('storage: in-memory store; state is lost on restart and cannot be shared between replicas')
    closers.push(() => storage.close())
  }
  try {
    return await wire(config, logger, catalog, policy, metrics.instrumentStorage(storage), closers, metrics, tls)
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => undefined)
    throw err
  }
}

async function wire (
  config: Config, logger: Logger, catalog: BrokerCatalog, policy: Policy, storage: StoragePort, closers: Array<() => Promise<void>>,
  metrics: BrokerMetrics, tls: { cert: Buffer, key: Buffer } | undefined
): Promise<RunningBroker> {
  let atlas: HttpAtlasAdapter
  let simulatorUrl: string | undefined
  const reachability = new AtlasReachability((up, reason) => {
    metrics.onAtlasReachability(up)
    if (up) logger.warn({ reason }, 'Atlas reachable again')
    else logger.warn({ reason }, 'Atlas unreachable: Atlas-bound requests answer 503 until it answers again')
  })
  closers.push(async () => { reachability.stop() })
  const observers: AtlasObservers = {
    onExchange: event => {
      metrics.onAtlasExchange(event)
      reachability.observe(event)
    },
    onDigestReuseRefused: () => {
      metrics.onDigestReuseRefused()
      logger.warn('Atlas refused a reused digest nonce: answering a fresh challenge for every request from now on (one more round trip per call)')
    }
  }
  if (config.localMode) {
    // The simulator is loaded only in local mode.
    const { AtlasSimulator } = await import('../adapters/atlas/simulator/atlas-simulator.js')
    const sim = new AtlasSimulator({
      seedClusters: ['Cluster0'],
      delays: {
        clusterCreateMs: config.localSim.createSeconds * 1000,
        clusterUpdateMs: config.localSim.createSeconds * 500,
        clusterDeleteMs: config.localSim.createSeconds * 250,
        flexCreateMs: config.localSim.createSeconds * 250,
        userPropagationMs: config.localSim.propagationSeconds * 1000
      }
    })
    simulatorUrl = await sim.listen(0, '127.0.0.1')
    closers.push(() => sim.close())
    const adapter = atlasAdapter(config, {
      baseUrl: simulatorUrl, projectId: sim.projectId, credentials: { kind: 'digest', publicKey: sim.publicKey, privateKey: sim.privateKey }
    }, observers)
    closers.push(() => adapter.close())
    atlas = adapter
  } else {
    const adapter = configuredAtlas(config, observers)
    closers.push(() => adapter.close())
    atlas = adapter
  }
  const problems = targetProblems(config, catalog)
  if (problems.length > 0) throw new ConfigError(problems)
  // One adapter per other project and credentials the plans name, made when first used and closed with the broker.
  const others = new Map<string, HttpAtlasAdapter>()
  closers.push(async () => { for (const adapter of others.values()) await adapter.close() })
  const atlasFor = (target: AtlasTarget): HttpAtlasAdapter => {
    const key = targetKey(target)
    let adapter = others.get(key)
    if (adapter === undefined) others.set(key, adapter = configuredAtlas(config, observers, target))
    return adapter
  }


  const credentials = {
    username: config.broker.username ?? 'broker',
    password: config.broker.password ?? randomBytes(18).toString('base64url')
  }
  const broker = new AtlasBroker({
    catalog,
    atlas,
    atlasFor,
    // The organisation's projects: the same adapters (an organisation key also reaches the projects it makes).
    atlasOrgFor: (credentials): AtlasOrgPort => credentials === undefined ? atlas : atlasFor({ credentials }),
    storage,
    policy,
    validator: new AjvParameterValidator(),
    logger,
    ...(await databaseAdmin(config)),
    settings: {
      dropDatabaseOnDeprovision: config.dropDatabaseOnDeprovision,
      pollRetryAfterSeconds: config.localMode ? Math.min(config.pollRetryAfterSeconds, 2) : config.pollRetryAfterSeconds,
      credentialsSecret: config.credentialsSecret ?? randomBytes(32).toString('base64url'),
      credentialsKeyId: config.credentialsKeyId,
      previousCredentialsSecrets: config.previousCredentialsSecrets,
      ...(config.atlas.defaultCluster !== undefined
        ? { defaultCluster: config.atlas.defaultCluster }
        : config.localMode ? { defaultCluster: 'Cluster0' } : {}),
      bindingEndpoints: config.bindingEndpoints,
      defaultIpAccessList: config.atlas.defaultIpAccessList,
      allowOpenAccessList: config.atlas.allowOpenAccessList,
      ...(config.dashboardUrls && !config.localMode && config.atlas.projectId !== undefined
        ? { dashboard: { baseUrl: config.atlas.baseUrl, defaultProjectId: config.atlas.projectId } }
        : {}),
      userPropagationTimeoutMs: config.userPropagationTimeoutMs,
      userPropagationPollMs: config.userPropagationPollMs,
      operationBudgetMs: config.operationBudgetMs,
      leaseMs: config.operationBudgetMs + 15_000
    }
  })
  // The compiled broker's route schemas come precompiled by the build (none when running from the sources).
  const precompiled = loadPrecompiledSchemas()
  const app = await buildApp({
    broker,
    credentials,
    logger,
    ...(precompiled === undefined ? {} : { routeSchemas: routeSchemaCompilers(precompiled) }),
    metrics: { metrics, public: config.metricsPublic },
    ...(tls === undefined ? {} : { tls }),
    trustProxy: config.trustProxy,
    authFailuresPerMinute: config.authFailuresPerMinute,
    // Ready means this replica can serve: configuration loaded (it got here) and storage reachable. Atlas is
    // not part of it: during an Atlas outage the catalog and storage-backed answers keep flowing.
    readiness: [{ name: 'storage', check: () => storage.ping() }]
  })
  reachability.startProbing(() => atlas.getProject({ deadline: Date.now() + 5000 }), ATLAS_PROBE_INTERVAL_MS)
  return {
    app,
    credentials,
    ...(simulatorUrl === undefined ? {} : { simulatorUrl }),
    close: async () => {
      await app.close()
      for (const close of closers.reverse()) await close()
    }
  }
}

/**
 * Configuration: one TypeBox schema over environment variables, parsed once at start-up. Nothing else in
 * the broker reads `process.env`. The seed's secrets file (`{"atlas": {...}, "mongo": {...}}`) may supply
 * the Atlas and MongoDB settings (SECRETS_FILE); environment variables win over it.
 * Every problem is reported at once, each naming its variable.
 */
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { type Static, Type } from 'typebox'
import { type AtlasCredentials } from '../adapters/atlas/atlas-http-client.js'
import { cidrBlockOf } from '../domain/instance-projects.js'

/** The policies folder when POLICIES_DIR is not set (it may be absent; any other folder must exist). */
export const DEFAULT_POLICIES_DIR = 'policies'

/** Environment variables the broker reads; `description` feeds the README's configuration table. */
export const ConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'TCP port the broker listens on.' }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Address the broker listens on (use 0.0.0.0 in a container).' }),
  LOG_LEVEL: Type.String({ expected: 'one of fatal, error, warn, info, debug, trace, silent', pattern: '^(fatal|error|warn|info|debug|trace|silent)$', default: 'info', description: 'pino log level: fatal, error, warn, info, debug, trace or silent.' }),
  BROKER_USERNAME: Type.Optional(Type.String({ minLength: 1, description: 'Basic-auth username platforms use. Required unless in local mode (generated there).' })),
  BROKER_PASSWORD: Type.Optional(Type.String({ minLength: 12, description: 'Basic-auth password (12+ characters). Required unless in local mode (generated there).' })),
  CREDENTIALS_SECRET: Type.Optional(Type.String({ minLength: 32, description: 'Secret (32+ characters) from which binding passwords are derived and sealed. Required unless in local mode. Changing it changes the passwords of new binds only.' })),
  CREDENTIALS_SECRET_ID: Type.String({ expected: '1 to 32 letters, digits, _ or -', pattern: '^[A-Za-z0-9_-]{1,32}$', default: 'primary', description: 'Id of CREDENTIALS_SECRET, recorded with each binding. To rotate: give the new secret a new id and list the old one in CREDENTIALS_PREVIOUS_SECRETS.' }),
  CREDENTIALS_PREVIOUS_SECRETS: Type.Optional(Type.String({ expected: 'id=secret pairs separated by commas (ids of 1 to 32 letters, digits, _ or -; secrets of 32 or more characters, without commas)', pattern: '^[A-Za-z0-9_-]{1,32}=[^,]{32,}(,[A-Za-z0-9_-]{1,32}=[^,]{32,})*$', description: 'Earlier credentials secrets as id=secret,id=secret: bindings made with them keep their credentials.' })),
  SECRETS_FILE: Type.Optional(Type.String({ minLength: 1, description: "Path of a python-atlasbroker secrets JSON file ({\"atlas\": {user, password, group}, \"mongo\": {uri, db, timeoutms, collection}}); environment variables win over it." })),
  POLICIES_DIR: Type.String({ minLength: 1, default: DEFAULT_POLICIES_DIR, description: 'Folder whose *.ts policy files are loaded at start-up, in name order. A folder other than the default must exist.' }),
  CATALOG_FILE: Type.Optional(Type.String({ minLength: 1, description: 'JSON file with the catalog to serve instead of the built-in one.' })),
  ATLAS_BASE_URL: Type.String({ expected: 'an absolute URL such as https://cloud.mongodb.com', format: 'uri', default: 'https://cloud.mongodb.com', description: 'Atlas Administration API base URL (point it at a separately started simulator to test).' }),
  ATLAS_PROJECT_ID: Type.Optional(Type.String({ expected: '24 hexadecimal characters (the project id shown in the project settings in Atlas)', pattern: '^[a-f0-9]{24}$', description: 'Atlas project (group) id, 24 hex characters.' })),
  ATLAS_PUBLIC_KEY: Type.Optional(Type.String({ minLength: 1, description: 'Programmatic API key, public part (HTTP Digest).' })),
  ATLAS_PRIVATE_KEY: Type.Optional(Type.String({ minLength: 1, description: 'Programmatic API key, private part.' })),
  ATLAS_CLIENT_ID: Type.Optional(Type.String({ minLength: 1, description: 'Service account client id (OAuth2), instead of an API key.' })),
  ATLAS_CLIENT_SECRET: Type.Optional(Type.String({ minLength: 1, description: 'Service account client secret.' })),
  ATLAS_DEFAULT_IP_ACCESS_LIST: Type.Optional(Type.String({
    minLength: 1, expected: 'IP addresses or CIDR blocks separated by commas',
    description: 'Project-per-instance plans: entries every instance\'s project gets on its IP access list (the platform\'s egress), comma-separated addresses or CIDR blocks.'
  })),
  ATLAS_ALLOW_OPEN_ACCESS_LIST: Type.String({
    expected: 'true or false', pattern: '^(true|false)$', default: 'false', description: 'Whether an instance\'s ipAccessList may open its project to everyone (0.0.0.0/0, ::/0).'
  }),
  ATLAS_CREDENTIALS_FILE: Type.Optional(Type.String({
    minLength: 1,
    description: 'JSON file of named Atlas credentials, for plans naming `atlas.credentials`: `{"<name>": {"publicKey", "privateKey"} or {"clientId", "clientSecret"}}`. Environment variables `ATLAS_CREDENTIALS_<NAME>_PUBLIC_KEY`/`_PRIVATE_KEY` (or `_CLIENT_ID`/`_CLIENT_SECRET`) name more; `_` in a name matches `-`.'
  })),
  ATLAS_DEFAULT_CLUSTER: Type.Optional(Type.String({ expected: 'a cluster name: letters, digits and hyphens, starting with a letter or digit', pattern: '^[a-zA-Z0-9][a-zA-Z0-9-]*$', description: 'Cluster used by shared-cluster provisions that give no `cluster` parameter.' })),
  ATLAS_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10000, description: 'Timeout of one Atlas HTTP request.' }),
  ATLAS_MAX_RETRIES: Type.Integer({ minimum: 0, maximum: 10, default: 4, description: 'Retries of an idempotent Atlas call on 429, 5xx or connection errors.' }),
  ATLAS_RETRY_BASE_MS: Type.Integer({ minimum: 10, maximum: 10000, default: 1000, description: 'Wait before the first retry of an Atlas call that gave no Retry-After; it doubles with each retry (with jitter, at most 16 s), within the call\'s budget.' }),
  OPERATION_BUDGET_MS: Type.Integer({ minimum: 1000, maximum: 55000, default: 45000, description: 'Longest time one OSB request may spend on Atlas (keeps answers under the platforms\' 60 s).' }),
  USER_PROPAGATION_TIMEOUT_MS: Type.Integer({ minimum: 0, default: 40000, description: 'Longest wait for a new database user to be APPLIED on its cluster before bind answers.' }),
  TLS_CERT_FILE: Type.Optional(Type.String({ minLength: 1, description: 'PEM certificate file: serve HTTPS directly (with TLS_KEY_FILE). Default: plain HTTP behind the platform\'s TLS.' })),
  TLS_KEY_FILE: Type.Optional(Type.String({ minLength: 1, description: 'PEM private key file for TLS_CERT_FILE.' })),
  TRUST_PROXY: Type.String({ minLength: 1, default: 'false', description: 'Proxies whose X-Forwarded-For is believed: `false` (none), a hop count (e.g. `1` behind one load balancer), or a comma-separated list of proxy addresses or CIDRs (e.g. `10.0.0.0/8,127.0.0.1`). `true` is refused: it would let any client choose its own address.' }),
  AUTH_FAILURES_PER_MINUTE: Type.Integer({ minimum: 1, default: 20, description: 'Failed basic-auth attempts per minute a client may make with one username before further wrong attempts get 429 (each failure is also slowed). Correct credentials are always accepted.' }),
  DASHBOARD_URLS: Type.String({ expected: 'true or false', pattern: '^(true|false)$', default: 'true', description: 'true: provision and fetch instance answer dashboard_url, the instance\'s cluster in the Atlas UI (not in local mode).' }),
  BINDING_ENDPOINTS: Type.String({ expected: 'auto, always or never', pattern: '^(auto|always|never)$', default: 'auto', description: 'Whether bind answers carry `endpoints`: auto (not for Kubernetes platforms, whose Service Catalog client cannot decode the spec\'s string ports), always or never.' }),
  METRICS_PUBLIC: Type.String({ expected: 'true or false', pattern: '^(true|false)$', default: 'false', description: 'true: serve /metrics without broker auth (e.g. to a Prometheus inside the cluster). Default: behind broker auth.' }),
  POLL_RETRY_AFTER_SECONDS: Type.Integer({ minimum: 1, maximum: 600, default: 15, description: 'Retry-After sent with last_operation while a cluster operation is in progress (local mode: at most 2).' }),
  USER_PROPAGATION_POLL_MS: Type.Integer({ minimum: 10, default: 1000, description: 'Shortest interval between cluster status checks while a new user propagates; checks adapt to the typical propagation time and grow further apart.' }),
  DROP_DATABASE_ON_DEPROVISION: Type.String({ expected: 'true or false', pattern: '^(true|false)$', default: 'false', description: 'true: deprovision drops the instance database when no other instance uses it (through a temporary dbAdmin user). Default: databases are kept.' }),
  MONGODB_URI: Type.Optional(Type.String({ expected: 'a MongoDB connection string starting with mongodb:// or mongodb+srv://', pattern: '^mongodb(\\+srv)?://', description: 'MongoDB connection string for the broker\'s state (MongoDB or Atlas); unset: in-memory store (state lost on restart).' })),
  MONGODB_DATABASE: Type.String({ minLength: 1, default: 'atlas_broker', description: 'Database of the broker\'s state.' }),
  MONGODB_COLLECTION: Type.String({ minLength: 1, default: 'broker', description: 'Collection prefix of the broker\'s state.' }),
  MONGODB_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 5000, description: 'Bound of every MongoDB call (server selection, socket, operation).' }),
  LOCAL_MODE: Type.String({ expected: 'true or false', pattern: '^(true|false)$', default: 'false', description: 'true: run with the built-in Atlas simulator and an in-memory store, for trying the broker (never for production). `npm start` sets it when no Atlas credentials are given; every other entry needs Atlas credentials unless it is set.' }),
  LOCAL_MODE_MONGODB: Type.String({ expected: 'true or false', pattern: '^(true|false)$', default: 'false', description: 'Local mode: keep the state in MONGODB_URI\'s database. Default: local mode ignores MONGODB_URI and never writes to it.' }),
  LOCAL_SIM_CREATE_SECONDS: Type.Number({ minimum: 0, default: 20, description: 'Local mode: simulated cluster creation time.' }),
  LOCAL_SIM_PROPAGATION_SECONDS: Type.Number({ minimum: 0, default: 2, description: 'Local mode: simulated database user propagation time.' })
}, { additionalProperties: true })

type Env = Static<typeof ConfigSchema>

/** Atlas credentials: the adapter's own type (an API key for Digest, or a service account). */
export type AtlasAuthConfig = AtlasCredentials

export interface Config {
  port: number
  host: string
  logLevel: string
  /** Local mode (LOCAL_MODE=true): the built-in simulator and, unless LOCAL_MODE_MONGODB, the in-memory store. */
  localMode: boolean
  broker: { username?: string, password?: string }
  credentialsSecret?: string
  credentialsKeyId: string
  previousCredentialsSecrets: Record<string, string>
  policiesDir: string
  catalogFile?: string
  atlas: {
    baseUrl: string
    projectId?: string
    auth?: AtlasAuthConfig
    /** Named credentials (plans' `atlas.credentials`), by normalised name (lower case, `_` as `-`). */
    named: Record<string, AtlasAuthConfig>
    /** Project-per-instance plans: default access list entries (CIDR blocks), and whether open entries are allowed. */
    defaultIpAccessList: string[]
    allowOpenAccessList: boolean
    defaultCluster?: string
    requestTimeoutMs: number
    maxRetries: number
    retryBaseMs: number
  }
  operationBudgetMs: number
  dropDatabaseOnDeprovision: boolean
  pollRetryAfterSeconds: number
  metricsPublic: boolean
  tls?: { certFile: string, keyFile: string }
  /** Fastify's trustProxy: false, a hop count, or a list of proxy addresses/CIDRs. */
  trustProxy: false | number | string[]
  bindingEndpoints: 'auto' | 'always' | 'never'
  dashboardUrls: boolean
  /** Local mode was asked for while MONGODB_URI is set: it is not used (LOCAL_MODE_MONGODB not set). */
  mongoIgnored: boolean
  authFailuresPerMinute: number
  userPropagationTimeoutMs: number
  userPropagationPollMs: number
  mongo?: { uri: string, database: string, collection: string, timeoutMs: number }
  localSim: { createSeconds: number, propagationSeconds: number }
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_ERROR'
  readonly problems: string[]
  constructor (problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.problems = problems
    this.name = 'ConfigError'
  }
}

/**
 * TRUST_PROXY as Fastify takes it. Never `true`: trusting every hop lets a client name its own address in
 * X-Forwarded-For, which would defeat per-client login limiting.
 */
function parseTrustProxy (value: string, problems: string[]): Config['trustProxy'] {
  if (value === 'false') return false
  if (value === 'true') {
    problems.push('TRUST_PROXY: true would trust every hop (any client could choose its own address); give the number of proxies in front of the broker (e.g. 1) or their addresses/CIDRs')
    return false
  }
  if (/^\d+$/.test(value)) {
    const hops = Number(value)
    if (hops >= 1 && hops <= 10) return hops
    problems.push(`TRUST_PROXY: a hop count is 1 to 10 (got ${value})`)
    return false
  }
  const entries = value.split(',').map(e => e.trim()).filter(e => e !== '')
  const bad = entries.filter(entry => !isAddressOrCidr(entry))
  if (bad.length > 0 || entries.length === 0) {
    problems.push(`TRUST_PROXY: not an IP address or CIDR: ${bad.join(', ') || value} (expected false, a hop count, or addresses/CIDRs such as 10.0.0.0/8,127.0.0.1)`)
    return false
  }
  return entries
}

function isAddressOrCidr (entry: string): boolean {
  const [address, bits, ...rest] = entry.split('/')
  if (address === undefined || rest.length > 0) return false
  const family = isIP(address)
  if (family === 0) return false
  if (bits === undefined) return true
  if (!/^\d{1,3}$/.test(bits)) return false
  return Number(bits) <= (family === 4 ? 32 : 128)
}

/** Where each setting the seed's secrets file can supply sits in it. */
const SECRETS_FILE_KEYS: Record<string, [string, string]> = {
  ATLAS_PUBLIC_KEY: ['atlas', 'user'],
  ATLAS_PRIVATE_KEY: ['atlas', 'password'],
  ATLAS_PROJECT_ID: ['atlas', 'group'],
  MONGODB_URI: ['mongo', 'uri'],
  MONGODB_DATABASE: ['mongo', 'db'],
  MONGODB_TIMEOUT_MS: ['mongo', 'timeoutms'],
  MONGODB_COLLECTION: ['mongo', 'collection']
}

/** The seed's secrets file, mapped onto our variable names. */
function readSecretsFile (file: string, readFile: (path: string) => string): Record<string, string> {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFile(file))
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : err instanceof Error ? err.message : String(err)
    throw new ConfigError([`SECRETS_FILE: cannot read ${file} as JSON (${reason})`])
  }
  const root = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, Record<string, unknown> | undefined>
  const out: Record<string, string> = {}
  for (const [name, [section, key]] of Object.entries(SECRETS_FILE_KEYS)) {
    const value = root[section]?.[key]
    if (value !== undefined && value !== null && value !== '') out[name] = String(value)
  }
  return out
}

/** What the settings' schemas use: strings (minLength, pattern, format uri) and numbers (minimum, maximum). */
interface SettingSchema {
  type?: string
  default?: unknown
  minLength?: number
  pattern?: string
  format?: string
  minimum?: number
  maximum?: number
}

/**
 * The settings given, with each schema's default for those absent and numbers read from their text:
 * what TypeBox's Value.Default and Value.Convert would do for these schemas, without loading its value
 * module at start-up (a sixth of the broker's start-up time).
 */
function withDefaults (given: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, schema] of Object.entries(ConfigSchema.properties as Record<string, SettingSchema>)) {
    const value = given[name]
    if (value === undefined) {
      if (schema.default !== undefined) out[name] = schema.default
    } else {
      const numeric = (schema.type === 'integer' || schema.type === 'number') && value.trim() !== '' && Number.isFinite(Number(value))
      out[name] = numeric ? Number(value) : value
    }
  }
  return out
}

/** The first schema keyword a setting's value fails (`type`, `minimum`, ...), or undefined when it is valid. */
export function settingProblem (schema: SettingSchema, value: unknown): string | undefined {
  if (schema.type === 'integer' || schema.type === 'number') {
    if (typeof value !== 'number' || (schema.type === 'integer' ? !Number.isSafeInteger(value) : !Number.isFinite(value))) return 'type'
    if (schema.minimum !== undefined && value < schema.minimum) return 'minimum'
    if (schema.maximum !== undefined && value > schema.maximum) return 'maximum'
    return undefined
  }
  if (typeof value !== 'string') return 'type'
  if (schema.minLength !== undefined && value.length < schema.minLength) return 'minLength'
  if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) return 'pattern'
  if (schema.format === 'uri' && !URL.canParse(value)) return 'format'
  return undefined
}

interface SchemaWords {
  type?: string
  expected?: string
  minimum?: number
  maximum?: number
  minLength?: number
}

/** A setting's problem in words, naming where it came from and (unless secret) what was given. */
function describeProblem (name: string, value: unknown, keyword: string, source: string | undefined): string {
  const schema = (ConfigSchema.properties as Record<string, SchemaWords>)[name] ?? {}
  let what: string
  if (keyword === 'type') what = schema.type === 'integer' ? 'must be a whole number' : schema.type === 'number' ? 'must be a number' : 'has the wrong type'
  else if (keyword === 'minimum') what = `must be at least ${String(schema.minimum)}`
  else if (keyword === 'maximum') what = `must be at most ${String(schema.maximum)}`
  else if (keyword === 'minLength') what = `must have at least ${String(schema.minLength)} characters`
  else what = schema.expected === undefined ? 'has the wrong form' : `must be ${schema.expected}`
  const secret = /KEY|SECRET|PASSWORD|MONGODB_URI/.test(name)
  return `${name}${source === undefined ? '' : ` (from ${source})`}: ${what}${secret ? '' : ` (got ${JSON.stringify(value)})`}`
}

const ATLAS_CREDENTIAL_SETTINGS = ['ATLAS_PUBLIC_KEY', 'ATLAS_PRIVATE_KEY', 'ATLAS_CLIENT_ID', 'ATLAS_CLIENT_SECRET', 'SECRETS_FILE']

/**
 * The environment with LOCAL_MODE=true added when it names no Atlas credentials at all and says nothing of
 * LOCAL_MODE: for `npm start` (trying the broker) and commands that only inspect (`catalog`), never for `serve`.
 */
export function localModeUnlessConfigured (env: Record<string, string | undefined>): Record<string, string | undefined> {
  const unconfigured = ATLAS_CREDENTIAL_SETTINGS.every(name => (env[name] ?? '') === '')
  return unconfigured && env.LOCAL_MODE === undefined ? { ...env, LOCAL_MODE: 'true' } : env
}

export function loadConfig (
  env: Record<string, string | undefined>,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')
): Config {
  const given: Record<string, string> = {}
  for (const [key, value] of Object.entries(env)) {
    if (key in ConfigSchema.properties && value !== undefined && value !== '') given[key] = value
  }
  const fromFile = given.SECRETS_FILE === undefined ? {} : readSecretsFile(given.SECRETS_FILE, readFile)
  const raw = withDefaults({ ...fromFile, ...given })
  // Each setting on its own, so that every problem is reported (the schema validator stops after a few), with
  // the problems of the settings' combination below, all in one error.
  const problems: string[] = []
  const invalid = new Set<string>()
  for (const [name, schema] of Object.entries(ConfigSchema.properties)) {
    if (raw[name] === undefined) continue
    const keyword = settingProblem(schema as SettingSchema, raw[name])
    if (keyword === undefined) continue
    const fileKey = given[name] === undefined ? SECRETS_FILE_KEYS[name] : undefined
    const source = fileKey !== undefined && name in fromFile ? `SECRETS_FILE ${given.SECRETS_FILE ?? ''}, key ${fileKey.join('.')}` : undefined
    problems.push(describeProblem(name, raw[name], keyword, source))
    invalid.add(name)
    delete raw[name]
  }
  const c = raw as Env

  const hasDigest = c.ATLAS_PUBLIC_KEY !== undefined || c.ATLAS_PRIVATE_KEY !== undefined
  const hasOauth = c.ATLAS_CLIENT_ID !== undefined || c.ATLAS_CLIENT_SECRET !== undefined
  let auth: AtlasAuthConfig | undefined
  if (hasDigest && hasOauth) problems.push('ATLAS_PUBLIC_KEY/ATLAS_CLIENT_ID: configure an API key or a service account, not both')
  if (hasDigest) {
    if (c.ATLAS_PUBLIC_KEY === undefined) problems.push('ATLAS_PUBLIC_KEY: required with ATLAS_PRIVATE_KEY')
    if (c.ATLAS_PRIVATE_KEY === undefined) problems.push('ATLAS_PRIVATE_KEY: required with ATLAS_PUBLIC_KEY')
    if (c.ATLAS_PUBLIC_KEY !== undefined && c.ATLAS_PRIVATE_KEY !== undefined) {
      auth = { kind: 'digest', publicKey: c.ATLAS_PUBLIC_KEY, privateKey: c.ATLAS_PRIVATE_KEY }
    }
  } else if (hasOauth) {
    if (c.ATLAS_CLIENT_ID === undefined) problems.push('ATLAS_CLIENT_ID: required with ATLAS_CLIENT_SECRET')
    if (c.ATLAS_CLIENT_SECRET === undefined) problems.push('ATLAS_CLIENT_SECRET: required with ATLAS_CLIENT_ID')
    if (c.ATLAS_CLIENT_ID !== undefined && c.ATLAS_CLIENT_SECRET !== undefined) {
      auth = { kind: 'service-account', clientId: c.ATLAS_CLIENT_ID, clientSecret: c.ATLAS_CLIENT_SECRET }
    }
  }
  if ((c.TLS_CERT_FILE === undefined) !== (c.TLS_KEY_FILE === undefined)) problems.push('TLS_CERT_FILE/TLS_KEY_FILE: give both or neither')
  const trustProxy = parseTrustProxy(c.TRUST_PROXY ?? 'false', problems)
  const localMode = c.LOCAL_MODE === 'true'
  if (localMode && (hasDigest || hasOauth)) {
    problems.push('LOCAL_MODE: true runs the built-in Atlas simulator, but Atlas credentials are set too: unset one of them')
  }
  if (!localMode) {
    const missing: string[] = []
    const unset = (name: keyof Env): boolean => c[name] === undefined && !invalid.has(name)
    if (!hasDigest && !hasOauth && !invalid.has('ATLAS_PUBLIC_KEY')) missing.push('ATLAS_PUBLIC_KEY and ATLAS_PRIVATE_KEY (or ATLAS_CLIENT_ID and ATLAS_CLIENT_SECRET)')
    if (unset('ATLAS_PROJECT_ID')) missing.push('ATLAS_PROJECT_ID')
    if (unset('BROKER_USERNAME')) missing.push('BROKER_USERNAME')
    if (unset('BROKER_PASSWORD')) missing.push('BROKER_PASSWORD')
    if (unset('CREDENTIALS_SECRET')) missing.push('CREDENTIALS_SECRET (32+ characters)')
    if (missing.length > 0) {
      const unknown = Object.keys(env).filter(key => /^(ATLAS|BROKER|CREDENTIALS|MONGODB|LOCAL)_/.test(key) && !(key in ConfigSchema.properties) && !NAMED_KEY.test(key))
      problems.push(`not set: ${missing.join(', ')}. To try the broker with the built-in Atlas simulator instead, set LOCAL_MODE=true (not for production)` +
        (unknown.length > 0 ? `. Unknown settings seen (misspelled?): ${unknown.sort().join(', ')}` : ''))
    }
  }
  const named = namedCredentials(env, c.ATLAS_CREDENTIALS_FILE, readFile, problems)
  const defaultIpAccessList = (c.ATLAS_DEFAULT_IP_ACCESS_LIST ?? '').split(',').map(part => part.trim()).filter(Boolean).map(part => {
    const block = cidrBlockOf(part)
    if (block === undefined) problems.push(`ATLAS_DEFAULT_IP_ACCESS_LIST: ${JSON.stringify(part)} is not an IP address or CIDR block`)
    return block ?? part
  })
  if (localMode && Object.keys(named).length > 0) problems.push('ATLAS_CREDENTIALS_*: local mode serves one simulated project; named credentials need real Atlas')
  if (problems.length > 0) throw new ConfigError(problems)

  return {
    port: c.PORT,
    host: c.HOST,
    logLevel: c.LOG_LEVEL,
    localMode,
    broker: {
      ...(c.BROKER_USERNAME === undefined ? {} : { username: c.BROKER_USERNAME }),
      ...(c.BROKER_PASSWORD === undefined ? {} : { password: c.BROKER_PASSWORD })
    },
    ...(c.CREDENTIALS_SECRET === undefined ? {} : { credentialsSecret: c.CREDENTIALS_SECRET }),
    credentialsKeyId: c.CREDENTIALS_SECRET_ID,
    previousCredentialsSecrets: Object.fromEntries((c.CREDENTIALS_PREVIOUS_SECRETS ?? '').split(',').filter(Boolean).map(pair => {
      const at = pair.indexOf('=')
      return [pair.slice(0, at), pair.slice(at + 1)]
    })),
    policiesDir: c.POLICIES_DIR,
    ...(c.CATALOG_FILE === undefined ? {} : { catalogFile: c.CATALOG_FILE }),
    atlas: {
      baseUrl: c.ATLAS_BASE_URL.replace(/\/+$/, ''),
      ...(c.ATLAS_PROJECT_ID === undefined ? {} : { projectId: c.ATLAS_PROJECT_ID }),
      ...(auth === undefined ? {} : { auth }),
      named,
      defaultIpAccessList,
      allowOpenAccessList: c.ATLAS_ALLOW_OPEN_ACCESS_LIST === 'true',
      ...(c.ATLAS_DEFAULT_CLUSTER === undefined ? {} : { defaultCluster: c.ATLAS_DEFAULT_CLUSTER }),
      requestTimeoutMs: c.ATLAS_REQUEST_TIMEOUT_MS,
      maxRetries: c.ATLAS_MAX_RETRIES,
      retryBaseMs: c.ATLAS_RETRY_BASE_MS
    },
    operationBudgetMs: c.OPERATION_BUDGET_MS,
    dropDatabaseOnDeprovision: c.DROP_DATABASE_ON_DEPROVISION === 'true',
    pollRetryAfterSeconds: c.POLL_RETRY_AFTER_SECONDS,
    metricsPublic: c.METRICS_PUBLIC === 'true',
    ...(c.TLS_CERT_FILE === undefined || c.TLS_KEY_FILE === undefined ? {} : { tls: { certFile: c.TLS_CERT_FILE, keyFile: c.TLS_KEY_FILE } }),
    trustProxy,
    bindingEndpoints: c.BINDING_ENDPOINTS as Config['bindingEndpoints'],
    dashboardUrls: c.DASHBOARD_URLS === 'true',
    mongoIgnored: localMode && c.LOCAL_MODE_MONGODB !== 'true' && c.MONGODB_URI !== undefined,
    authFailuresPerMinute: c.AUTH_FAILURES_PER_MINUTE,
    userPropagationTimeoutMs: c.USER_PROPAGATION_TIMEOUT_MS,
    userPropagationPollMs: c.USER_PROPAGATION_POLL_MS,
    ...(c.MONGODB_URI === undefined || (localMode && c.LOCAL_MODE_MONGODB !== 'true')
      ? {}
      : { mongo: { uri: c.MONGODB_URI, database: c.MONGODB_DATABASE, collection: c.MONGODB_COLLECTION, timeoutMs: c.MONGODB_TIMEOUT_MS } }),
    localSim: { createSeconds: c.LOCAL_SIM_CREATE_SECONDS, propagationSeconds: c.LOCAL_SIM_PROPAGATION_SECONDS }
  }
}

/** `ATLAS_CREDENTIALS_<NAME>_<PART>`: one part of a named set of credentials. */
const NAMED_KEY = /^ATLAS_CREDENTIALS_([A-Z0-9][A-Z0-9_]*?)_(PUBLIC_KEY|PRIVATE_KEY|CLIENT_ID|CLIENT_SECRET)$/

/** A credentials name as plans and settings compare it: lower case, `_` and `-` alike. */
export function credentialsName (name: string): string {
  return name.toLowerCase().replace(/_/g, '-')
}

/**
 * Named Atlas credentials from ATLAS_CREDENTIALS_FILE and ATLAS_CREDENTIALS_<NAME>_* (the variables win), each
 * an API key or a service account, complete. Problems name the setting, never a secret.
 */
function namedCredentials (
  env: Record<string, string | undefined>, file: string | undefined, readFile: (path: string) => string, problems: string[]
): Record<string, AtlasAuthConfig> {
  const parts = new Map<string, Record<string, string>>()
  const where = new Map<string, string>()
  if (file !== undefined) {
    let parsed: unknown
    try {
      parsed = JSON.parse(readFile(file))
    } catch (err) {
      problems.push(`ATLAS_CREDENTIALS_FILE: cannot read ${file} as JSON (${err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err)})`)
    }
    if (parsed !== undefined && (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))) problems.push(`ATLAS_CREDENTIALS_FILE: ${file} must hold an object of named credentials`)
    else if (parsed !== undefined) {
      for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
        const fields = typeof value === 'object' && value !== null ? value as Record<string, unknown> : {}
        const set: Record<string, string> = {}
        for (const [key, part] of [['publicKey', 'PUBLIC_KEY'], ['privateKey', 'PRIVATE_KEY'], ['clientId', 'CLIENT_ID'], ['clientSecret', 'CLIENT_SECRET']] as const) {
          if (typeof fields[key] === 'string' && fields[key] !== '') set[part] = fields[key]
        }
        parts.set(credentialsName(name), set)
        where.set(credentialsName(name), `ATLAS_CREDENTIALS_FILE ${file}, key ${name}`)
      }
    }
  }
  for (const [key, value] of Object.entries(env)) {
    const match = NAMED_KEY.exec(key)
    if (match === null || value === undefined || value === '') continue
    const name = credentialsName(match[1]!)
    parts.set(name, { ...parts.get(name), [match[2]!]: value })
    where.set(name, `ATLAS_CREDENTIALS_${match[1]!}_*`)
  }
  const named: Record<string, AtlasAuthConfig> = {}
  for (const [name, set] of parts) {
    const source = where.get(name) ?? name
    if (set.PUBLIC_KEY !== undefined && set.PRIVATE_KEY !== undefined && set.CLIENT_ID === undefined && set.CLIENT_SECRET === undefined) {
      named[name] = { kind: 'digest', publicKey: set.PUBLIC_KEY, privateKey: set.PRIVATE_KEY }
    } else if (set.CLIENT_ID !== undefined && set.CLIENT_SECRET !== undefined && set.PUBLIC_KEY === undefined && set.PRIVATE_KEY === undefined) {
      named[name] = { kind: 'service-account', clientId: set.CLIENT_ID, clientSecret: set.CLIENT_SECRET }
    } else {
      problems.push(`${source}: credentials ${name} need a public and private key, or a client id and secret (one pair, complete)`)
    }
  }
  return named
}

/**
 * Configuration: one TypeBox schema over environment variables (`config-schema.ts`), parsed once at start-up. Nothing else in
 * the broker reads `process.env`. The seed's secrets file (`{"atlas": {...}, "mongo": {...}}`) may supply
 * the Atlas and MongoDB settings (SECRETS_FILE); environment variables win over it.
 * Every problem is reported at once, each naming its variable.
 */
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import type { AtlasCredentials } from '../adapters/atlas/atlas-http-client.js'
import { cidrBlockOf } from '../domain/instance-projects.js'
import { ConfigSchema, type Env } from './config-schema.js'
import { NAMED_KEY, namedCredentials } from './named-credentials.js'


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

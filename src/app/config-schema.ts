/**
 * The settings: one TypeBox schema over the environment variables the broker reads, which drives the
 * `Config` parser's types, its checks and the README's configuration table. Data only: the build turns this
 * module into plain JSON (scripts/build.mjs), so that the compiled broker never loads TypeBox.
 */
import { type Static, Type } from 'typebox'

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

/** The settings as the schema types them, before the parser's own checks. */
export type Env = Static<typeof ConfigSchema>

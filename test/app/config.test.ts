/** Configuration: one schema, defaults, conversions, the seed's secrets file, and clear errors. */
import t from 'tap'
import { ConfigError, loadConfig } from '../../src/app/config.js'

const production = {
  ATLAS_PUBLIC_KEY: 'pub', ATLAS_PRIVATE_KEY: 'priv-key', ATLAS_PROJECT_ID: '0123456789abcdef01234567',
  BROKER_USERNAME: 'platform', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'x'.repeat(32)
}

t.test('LOCAL_MODE=true: local mode with defaults', async t => {
  const c = loadConfig({ LOCAL_MODE: 'true' })
  t.equal(c.localMode, true)
  t.equal(c.port, 8080)
  t.equal(c.host, '127.0.0.1')
  t.equal(c.logLevel, 'info')
  t.equal(c.policiesDir, 'policies')
  t.equal(c.atlas.baseUrl, 'https://cloud.mongodb.com')
  t.equal(c.mongo, undefined)
})

t.test('no Atlas credentials and no LOCAL_MODE: one problem naming what is missing and LOCAL_MODE=true', async t => {
  const err = (() => { try { loadConfig({ ATLAS_PUBLICKEY: 'typo', BROKER_USERNAME: 'u' }) } catch (e) { return e } return undefined })()
  t.type(err, ConfigError)
  const problems = (err as ConfigError).problems
  t.equal(problems.length, 1, 'one message')
  t.match(problems[0], /not set: ATLAS_PUBLIC_KEY and ATLAS_PRIVATE_KEY \(or ATLAS_CLIENT_ID and ATLAS_CLIENT_SECRET\), ATLAS_PROJECT_ID, BROKER_PASSWORD, CREDENTIALS_SECRET/)
  t.notMatch(problems[0], /BROKER_USERNAME,/, 'what is set is not named')
  t.match(problems[0], /LOCAL_MODE=true/)
  t.match(problems[0], /misspelled\?\): ATLAS_PUBLICKEY/)
  t.throws(() => loadConfig({ ...production, LOCAL_MODE: 'true' }), /LOCAL_MODE: true runs the built-in Atlas simulator, but Atlas credentials are set too/)
})

t.test('local mode ignores MONGODB_URI unless LOCAL_MODE_MONGODB=true', async t => {
  const ignored = loadConfig({ LOCAL_MODE: 'true', MONGODB_URI: 'mongodb://db:27017' })
  t.equal(ignored.mongo, undefined, 'never writes to the configured MongoDB')
  t.equal(ignored.mongoIgnored, true, 'and says so at start-up')
  const asked = loadConfig({ LOCAL_MODE: 'true', LOCAL_MODE_MONGODB: 'true', MONGODB_URI: 'mongodb://db:27017' })
  t.equal(asked.mongo?.uri, 'mongodb://db:27017')
  t.equal(asked.mongoIgnored, false)
  t.equal(loadConfig({ ...production, MONGODB_URI: 'mongodb://db:27017' }).mongo?.uri, 'mongodb://db:27017', 'production uses it')
})

t.test('TRUST_PROXY: false, a hop count, or proxy addresses/CIDRs; never "every hop"', async t => {
  t.equal(loadConfig({ ...production }).trustProxy, false)
  t.equal(loadConfig({ ...production, TRUST_PROXY: '1' }).trustProxy, 1)
  t.same(loadConfig({ ...production, TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1,fd00::/8' }).trustProxy, ['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8'])
  t.throws(() => loadConfig({ ...production, TRUST_PROXY: 'true' }), /TRUST_PROXY: true would trust every hop/)
  t.throws(() => loadConfig({ ...production, TRUST_PROXY: '10.0.0.0/33' }), /not an IP address or CIDR: 10\.0\.0\.0\/33/)
  t.throws(() => loadConfig({ ...production, TRUST_PROXY: 'loadbalancer' }), /TRUST_PROXY/)
  t.throws(() => loadConfig({ ...production, TRUST_PROXY: '0' }), /hop count is 1 to 10/)
})

t.test('production settings are converted and structured', async t => {
  const c = loadConfig({ ...production, PORT: '9090', ATLAS_DEFAULT_CLUSTER: 'Cluster0', ATLAS_BASE_URL: 'http://127.0.0.1:1234/', UNRELATED: 'x' })
  t.equal(c.localMode, false)
  t.equal(c.port, 9090)
  t.same(c.atlas.auth, { kind: 'digest', publicKey: 'pub', privateKey: 'priv-key' })
  t.equal(c.atlas.baseUrl, 'http://127.0.0.1:1234')
  t.equal(c.atlas.defaultCluster, 'Cluster0')
  const sa = loadConfig({ ...production, ATLAS_PUBLIC_KEY: undefined, ATLAS_PRIVATE_KEY: undefined, ATLAS_CLIENT_ID: 'id', ATLAS_CLIENT_SECRET: 'secret' })
  t.same(sa.atlas.auth, { kind: 'service-account', clientId: 'id', clientSecret: 'secret' })
})

t.test('every problem is reported at once, each naming its variable, secrets not echoed', async t => {
  const err = (() => {
    try {
      loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', ATLAS_PUBLIC_KEY: 'pub', BROKER_PASSWORD: 'short-pw' })
    } catch (e) { return e }
    return undefined
  })()
  t.type(err, ConfigError)
  const message = (err as Error).message
  t.match(message, /PORT/)
  t.match(message, /LOG_LEVEL/)
  t.match(message, /BROKER_PASSWORD/)
  t.notMatch(message, /short-pw/)
  const missing = (() => { try { loadConfig({ ATLAS_PUBLIC_KEY: 'pub' }) } catch (e) { return e } return undefined })()
  for (const name of ['ATLAS_PRIVATE_KEY', 'ATLAS_PROJECT_ID', 'BROKER_USERNAME', 'BROKER_PASSWORD', 'CREDENTIALS_SECRET']) {
    t.match((missing as Error).message, name)
  }
  t.throws(() => loadConfig({ ...production, ATLAS_CLIENT_ID: 'id', ATLAS_CLIENT_SECRET: 's' }), /not both/)
  t.throws(() => loadConfig({ ...production, ATLAS_PROJECT_ID: 'not-hex' }), /ATLAS_PROJECT_ID/)
})

t.test('the seed secrets file supplies Atlas and MongoDB settings; environment variables win', async t => {
  const file = JSON.stringify({
    atlas: { user: 'seed-pub', password: 'seed-priv', group: 'abcdefabcdefabcdefabcdef' },
    mongo: { uri: 'mongodb://db:27017', db: 'broker', timeoutms: 3000, collection: 'osb' }
  })
  const c = loadConfig({ SECRETS_FILE: '/secrets.json', BROKER_USERNAME: 'u', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'y'.repeat(32), ATLAS_PROJECT_ID: '0123456789abcdef01234567' }, () => file)
  t.same(c.atlas.auth, { kind: 'digest', publicKey: 'seed-pub', privateKey: 'seed-priv' })
  t.equal(c.atlas.projectId, '0123456789abcdef01234567', 'environment wins')
  t.same(c.mongo, { uri: 'mongodb://db:27017', database: 'broker', collection: 'osb', timeoutMs: 3000 })
  t.throws(() => loadConfig({ SECRETS_FILE: '/x' }, () => '{nope'), /SECRETS_FILE/)
  t.throws(() => loadConfig({ SECRETS_FILE: '/x', LOCAL_MODE: 'true' }, () => file), /LOCAL_MODE/, 'a secrets file with keys is not local mode')
})

t.test('the README\'s generated tables (configuration, simulator fidelity note) are up to date (npm run docs:config)', async t => {
  const { readFileSync } = await import('node:fs')
  const { withGenerated } = await import('../../scripts/readme-config-table.js')
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  t.equal(withGenerated(readme), readme, 'run npm run docs:config after changing the config schema or the simulator\'s guesses')
})

t.test('every problem at once, however many, in words (no regular expressions), type errors and missing settings together', async t => {
  const err = (() => {
    try {
      loadConfig({
        PORT: 'eighty', LOG_LEVEL: 'loud', BROKER_PASSWORD: 'short', ATLAS_PROJECT_ID: 'xyz', ATLAS_REQUEST_TIMEOUT_MS: '5', MONGODB_URI: 'http://x',
        CREDENTIALS_PREVIOUS_SECRETS: 'bad', LOCAL_MODE: 'yes', OPERATION_BUDGET_MS: '99999', METRICS_PUBLIC: 'x', BINDING_ENDPOINTS: 'sometimes'
      })
    } catch (e) { return e }
    return undefined
  })()
  const problems = (err as ConfigError).problems
  t.same(problems.slice(0, 11).map(p => p.split(':')[0]), [
    'PORT', 'LOG_LEVEL', 'BROKER_PASSWORD', 'CREDENTIALS_PREVIOUS_SECRETS', 'ATLAS_PROJECT_ID', 'ATLAS_REQUEST_TIMEOUT_MS', 'OPERATION_BUDGET_MS',
    'BINDING_ENDPOINTS', 'METRICS_PUBLIC', 'MONGODB_URI', 'LOCAL_MODE'
  ], 'all eleven invalid settings (the schema validator alone stops at eight)')
  t.match(problems.join('\n'), /PORT: must be a whole number \(got "eighty"\)/)
  t.match(problems.join('\n'), /LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent \(got "loud"\)/)
  t.match(problems.join('\n'), /ATLAS_REQUEST_TIMEOUT_MS: must be at least 100 \(got 5\)/)
  t.match(problems.join('\n'), /BROKER_PASSWORD: must have at least 12 characters$/m)
  t.notMatch(problems.join('\n'), /pattern|\^\(|\$"|\[a-f0-9\]/, 'no regular expressions')
  t.match(problems.at(-1), /^not set: ATLAS_PUBLIC_KEY and ATLAS_PRIVATE_KEY .*BROKER_USERNAME, CREDENTIALS_SECRET/, 'missing settings in the same report')
  t.notMatch(problems.at(-1), /ATLAS_PROJECT_ID|BROKER_PASSWORD/, 'an invalid setting is not also called missing')
})

t.test('problems of values from SECRETS_FILE name the file and the key', async t => {
  const file = JSON.stringify({ atlas: { user: 'pub', password: 'p', group: 'not-hex' }, mongo: { timeoutms: 'soon' } })
  const err = (() => { try { loadConfig({ ...production, ATLAS_PROJECT_ID: undefined, SECRETS_FILE: '/etc/broker/secrets.json' }, () => file) } catch (e) { return e } return undefined })()
  t.match((err as ConfigError).problems, [
    /^ATLAS_PROJECT_ID \(from SECRETS_FILE \/etc\/broker\/secrets\.json, key atlas\.group\): must be 24 hexadecimal characters/,
    /^MONGODB_TIMEOUT_MS \(from SECRETS_FILE \/etc\/broker\/secrets\.json, key mongo\.timeoutms\): must be a whole number/
  ])
  t.throws(() => loadConfig({ SECRETS_FILE: '/nope.json' }, () => { throw Object.assign(new Error('ENOENT: open'), { code: 'ENOENT' }) }), /SECRETS_FILE: cannot read \/nope\.json as JSON \(no such file\)/)
})

t.test('the start-up checker of each setting agrees with TypeBox\'s own validator (which is not loaded at start-up)', async t => {
  const { Value } = await import('typebox/value')
  const { settingProblem } = await import('../../src/app/config.js')
  const { ConfigSchema } = await import('../../src/app/config-schema.js')
  const samples = ['', '0', '-1', '8080', '65536', '1.5', '1e3', 'abc', 'true', 'false', 'https://cloud.mongodb.com', 'not a url', 'x'.repeat(40), '0123456789abcdef01234567', 'info', 'auto']
  let compared = 0
  for (const [name, schema] of Object.entries(ConfigSchema.properties)) {
    for (const text of samples) {
      const numeric = ((schema as { type?: string }).type === 'integer' || (schema as { type?: string }).type === 'number') && text.trim() !== '' && Number.isFinite(Number(text))
      const value = numeric ? Number(text) : text
      const typebox = [...Value.Errors(schema, value)].length > 0
      const ours = settingProblem(schema as Parameters<typeof settingProblem>[0], value) !== undefined
      if (typebox !== ours) t.fail(`${name} = ${JSON.stringify(text)}: TypeBox says ${typebox ? 'invalid' : 'valid'}, the checker ${ours ? 'invalid' : 'valid'}`)
      compared++
    }
  }
  t.ok(compared > 500, `${compared} setting values compared`)
})

t.test('named Atlas credentials: from variables and from ATLAS_CREDENTIALS_FILE, API keys or service accounts; half a pair is refused', async t => {
  const base = { ATLAS_PROJECT_ID: '0123456789abcdef01234567', ATLAS_PUBLIC_KEY: 'k', ATLAS_PRIVATE_KEY: 'p', BROKER_USERNAME: 'u', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'x'.repeat(32) }
  const file = JSON.stringify({ 'team-b': { publicKey: 'pub-b', privateKey: 'priv-b' }, Org: { clientId: 'mdb_sa_id_1', clientSecret: 'mdb_sa_sk_1' } })
  const config = loadConfig({ ...base, ATLAS_CREDENTIALS_FILE: '/etc/creds.json', ATLAS_CREDENTIALS_TEAM_C_CLIENT_ID: 'mdb_sa_id_c', ATLAS_CREDENTIALS_TEAM_C_CLIENT_SECRET: 'sk-c' }, () => file)
  t.same(config.atlas.named, {
    'team-b': { kind: 'digest', publicKey: 'pub-b', privateKey: 'priv-b' },
    org: { kind: 'service-account', clientId: 'mdb_sa_id_1', clientSecret: 'mdb_sa_sk_1' },
    'team-c': { kind: 'service-account', clientId: 'mdb_sa_id_c', clientSecret: 'sk-c' }
  }, 'names compare in lower case with _ and - alike')
  t.throws(() => loadConfig({ ...base, ATLAS_CREDENTIALS_FILE: '/etc/creds.json' }, () => '{not json'), /ATLAS_CREDENTIALS_FILE: cannot read \/etc\/creds.json as JSON/)
  const mixed = (() => { try { loadConfig({ ...base, ATLAS_CREDENTIALS_X_PUBLIC_KEY: 'a', ATLAS_CREDENTIALS_X_PRIVATE_KEY: 'secret-value', ATLAS_CREDENTIALS_X_CLIENT_ID: 'c' }) } catch (e) { return e as Error } return undefined })()
  t.match(mixed?.message, /credentials x need a public and private key, or a client id and secret/)
  t.notMatch(mixed?.message, /secret-value/, 'no secret in the message')
  t.throws(() => loadConfig({ ...base, ATLAS_DEFAULT_IP_ACCESS_LIST: '198.51.100.0/24, nonsense' }), /ATLAS_DEFAULT_IP_ACCESS_LIST: "nonsense" is not an IP address or CIDR block/)
  t.same(loadConfig({ ...base, ATLAS_DEFAULT_IP_ACCESS_LIST: '198.51.100.0/24, 203.0.113.7' }).atlas.defaultIpAccessList, ['198.51.100.0/24', '203.0.113.7/32'])
})

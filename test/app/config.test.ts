/** Configuration: one schema, defaults, conversions, the seed's secrets file, and clear errors. */
import t from 'tap'
import { ConfigError, loadConfig } from '../../src/app/config.js'

const production = {
  ATLAS_PUBLIC_KEY: 'pub', ATLAS_PRIVATE_KEY: 'priv-key', ATLAS_PROJECT_ID: '0123456789abcdef01234567',
  BROKER_USERNAME: 'platform', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'x'.repeat(32)
}

t.test('no Atlas credentials: local mode with defaults', async t => {
  const c = loadConfig({})
  t.equal(c.localMode, true)
  t.equal(c.port, 8080)
  t.equal(c.host, '127.0.0.1')
  t.equal(c.logLevel, 'info')
  t.equal(c.policiesDir, 'policies')
  t.equal(c.atlas.baseUrl, 'https://cloud.mongodb.com')
  t.equal(c.mongo, undefined)
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
})

t.test('the README configuration table is the one generated from the schema (npm run docs:config)', async t => {
  const { readFileSync } = await import('node:fs')
  const { withTable } = await import('../../scripts/readme-config-table.js')
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  t.equal(withTable(readme), readme, 'run npm run docs:config after changing the config schema')
})

/**
 * What start-up loads: the broker as deployed (not local mode, in-memory store) must not load what its
 * configuration does not need (the MongoDB driver) nor what it needs only later (undici, at the first Atlas
 * call). CommonJS packages show in the require cache of the process, read once the broker is listening. Nor
 * Node's own fetch implementation (its built-in undici bundle, which an ES import of node:http loads on Node 22
 * and later through that module's WebSocket getters: about 3 MB of the idle broker on Node 24); built-in
 * modules show in process.moduleLoadList.
 */
import { spawn } from 'node:child_process'
import t from 'tap'

const script = `
import { createRequire } from 'node:module'
const { serve } = await import('./src/app/server.ts')
await serve(process.env)
const loaded = Object.keys(createRequire(import.meta.url).cache).filter(p => p.includes('/node_modules/')).map(p => p.split('/node_modules/').pop().split('/').slice(0, p.split('/node_modules/').pop().startsWith('@') ? 2 : 1).join('/'))
process.stdout.write('LOADED ' + JSON.stringify([...new Set(loaded)]) + '\\n')
process.stdout.write('BUILTINS ' + JSON.stringify(process.moduleLoadList.filter(m => m.startsWith('NativeModule ')).map(m => m.slice(13))) + '\\n')
process.kill(process.pid, 'SIGTERM')
`

t.test('start-up loads neither the MongoDB driver nor undici', async t => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: {
      PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', POLICIES_DIR: 'policies',
      ATLAS_BASE_URL: 'http://127.0.0.1:9', ATLAS_PROJECT_ID: '0123456789abcdef01234567', ATLAS_PUBLIC_KEY: 'k', ATLAS_PRIVATE_KEY: 'p',
      BROKER_USERNAME: 'platform', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'x'.repeat(32)
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString() })
  await new Promise(resolve => child.once('exit', resolve))
  const line = /LOADED (.*)/.exec(out)?.[1]
  t.ok(line, `the broker started and listed what it loaded: ${err.slice(-500)}`)
  const loaded = JSON.parse(line ?? '[]') as string[]
  t.ok(loaded.includes('fastify'), 'the list is real (fastify is loaded)')
  for (const unwanted of ['mongodb', 'undici', 'mongodb-memory-server']) t.notOk(loaded.includes(unwanted), `${unwanted} is not loaded at start-up`)
  const builtins = JSON.parse(/BUILTINS (.*)/.exec(out)?.[1] ?? '[]') as string[]
  t.ok(builtins.includes('http'), 'the list of built-in modules is real (http is loaded)')
  t.notOk(builtins.includes('internal/deps/undici/undici'), "Node's own fetch implementation is not loaded at start-up")
})

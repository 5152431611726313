/**
 * Packaging, reproduced without a Docker engine (none runs on our machines):
 *   1. the image's steps — compiled output (`npm run build`'s script), `npm ci --omit=dev`, the image's start command, policies mounted
 *      from another folder — serve the catalog;
 *   2. `npm pack` yields a package that installs elsewhere, whose `createBroker` API and `atlas-broker` bin work.
 * Both install from the npm registry, so this file is slow (about a minute).
 */
import { execFile, spawn } from 'node:child_process'
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { FROZEN_MODULES } from '../../scripts/freeze-schemas.js'
import { IMAGE_ENTRY, IMAGE_NODE_FLAGS, IMAGE_NODE_OPTIONS } from '../../scripts/image-command.js'

t.setTimeout(600_000)
const run = promisify(execFile)
const root = new URL('../..', import.meta.url).pathname
/** The parent `npm test`'s npm_* variables must not leak into the installs. */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')))

t.test('the container image\'s steps, outside Docker', async t => {
  const image = mkdtempSync(path.join(tmpdir(), 'image-'))
  await run(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/build.ts'), path.join(image, 'dist')], { cwd: root })
  for (const module of FROZEN_MODULES) t.notMatch(readFileSync(path.join(image, 'dist', module), 'utf8'), /\bimport\b/, `${module} is plain data in the compiled output (no TypeBox at run time)`)
  copyFileSync(path.join(root, 'package.json'), path.join(image, 'package.json'))
  copyFileSync(path.join(root, 'package-lock.json'), path.join(image, 'package-lock.json'))
  await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: image, env: cleanEnv, maxBuffer: 16 * 1024 * 1024 })
  cpSync(path.join(root, 'policies'), path.join(image, 'policies'), { recursive: true })
  t.notOk(readdirSync(path.join(image, 'node_modules')).includes('tap'), 'no dev dependencies')

  const mounted = mkdtempSync(path.join(tmpdir(), 'mounted-policies-'))
  mkdirSync(mounted, { recursive: true })
  writeFileSync(path.join(mounted, '20-names.ts'), [
    "import type { PolicyPlugin } from 'atlas-broker'",
    "const policy: PolicyPlugin = { username: binding => `app-${binding.bindingId}` }",
    'export default policy', ''
  ].join('\n'))

  // The image's start command: its ENTRYPOINT's node flags and entry file, its NODE_OPTIONS; and a preload
  // that writes, on exit, which modules of the compilers Fastify would run at start-up were loaded.
  const loadedFile = path.join(image, 'loaded.json')
  const preload = path.join(image, 'loaded.cjs')
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(loadedFile)}, JSON.stringify(Object.keys(require.cache).map(p => p.split('/node_modules/').pop()))))\n`)
  const child = spawn(process.execPath, [...IMAGE_NODE_FLAGS, '--require', preload, IMAGE_ENTRY], {
    cwd: image,
    env: { PATH: process.env.PATH ?? '', HOME: image, NODE_ENV: 'production', NODE_OPTIONS: IMAGE_NODE_OPTIONS, HOST: '127.0.0.1', PORT: '0', POLICIES_DIR: mounted, LOG_LEVEL: 'debug', LOCAL_MODE: 'true' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let output = ''
  child.stdout.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr.on('data', (c: Buffer) => { output += c.toString() })
  const end = Date.now() + 30_000
  while (!/curl -s -u/.test(output) && Date.now() < end && child.exitCode === null) await new Promise(resolve => setTimeout(resolve, 50))
  t.match(output, /username: .*20-names\.ts/, 'the mounted policy file is named in the start-up log')
  const login = /basic auth:\s+(\S+) \/ (\S+)/.exec(output)
  const url = /broker URL:\s+(http:\/\/\S+)/.exec(output)
  t.ok(login !== null && url !== null, 'started')
  const response = await fetch(`${url![1]}/v2/catalog`, { headers: { authorization: `Basic ${Buffer.from(`${login![1]}:${login![2]}`).toString('base64')}`, 'X-Broker-API-Version': '2.17' } })
  t.equal(response.status, 200)
  // The route schemas came compiled by the build: none compiled at start-up (precompiled-schemas.ts).
  const schemas = /^.*route schemas: precompiled.*$/m.exec(output)?.[0]
  t.match(JSON.parse(schemas ?? '{}'), { precompiled: Number, compiledAtStart: 0 }, 'every route schema came precompiled')
  t.ok(((JSON.parse(schemas ?? '{}') as { precompiled?: number }).precompiled ?? 0) > 0, 'and there were some')
  t.equal(((await response.json()) as { services: Array<{ id: string }> }).services[0]?.id, '2a04f349-4aab-4fcb-af6d-8e1749a77c13')
  // The image's --expose-gc: memory is given back once the broker has been idle for a check interval.
  const quiet = Date.now() + 30_000
  while (!/idle: memory given back/.test(output) && Date.now() < quiet && child.exitCode === null) await new Promise(resolve => setTimeout(resolve, 100))
  const given = /^.*idle: memory given back.*$/m.exec(output)?.[0]
  t.ok(given !== undefined, 'one idle collection ran (debug log line)')
  t.match(JSON.parse(given ?? '{}'), { rssBeforeMb: Number, rssAfterMb: Number, ms: Number })
  const exited = new Promise(resolve => child.on('exit', resolve))
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'stops cleanly on SIGTERM')
  const loaded = JSON.parse(readFileSync(loadedFile, 'utf8')) as string[]
  t.ok(loaded.includes('fastify/fastify.js'), 'the list of loaded modules is real')
  for (const compiler of ['ajv/dist/core.js', 'fast-json-stringify/index.js', '@fastify/ajv-compiler/index.js']) t.notOk(loaded.includes(compiler), `${compiler} was not loaded`)
})

t.test('npm pack: the tarball installs elsewhere; createBroker and the bin work', async t => {
  const out = mkdtempSync(path.join(tmpdir(), 'pack-'))
  const { stdout } = await run('npm', ['pack', '--pack-destination', out, '--json'], { cwd: root, env: cleanEnv, maxBuffer: 16 * 1024 * 1024 })
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string, files: Array<{ path: string }> }>
  const files = packed!.files.map(f => f.path)
  for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/app/cli.js', 'dist/app/main.js', 'policies/README.md', 'README.md', 'package.json']) t.ok(files.includes(file), file)
  t.notOk(files.some(f => f.startsWith('src/') || f.startsWith('test/')), 'no sources or tests')

  const app = mkdtempSync(path.join(tmpdir(), 'embedder-'))
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'embedder', version: '1.0.0', type: 'module', private: true }))
  await run('npm', ['install', '--no-audit', '--no-fund', path.join(out, packed!.filename)], { cwd: app, env: cleanEnv, maxBuffer: 16 * 1024 * 1024 })
  writeFileSync(path.join(app, 'start.mjs'), `
import { createBroker, BrokerError, defaultCatalog } from 'atlas-broker'
const broker = await createBroker({ LOG_LEVEL: 'silent', LOCAL_MODE: 'true' }, { policy: { username: b => 'embedded-' + b.bindingId } })
const address = await broker.listen({ port: 0, host: '127.0.0.1' })
const auth = 'Basic ' + Buffer.from(broker.credentials.username + ':' + broker.credentials.password).toString('base64')
const r = await fetch(address + '/v2/catalog', { headers: { authorization: auth, 'X-Broker-API-Version': '2.17' } })
console.log(JSON.stringify({ status: r.status, plans: defaultCatalog.services[0].plans.length, errors: typeof BrokerError }))
await broker.close()
`)
  const started = await run(process.execPath, ['start.mjs'], { cwd: app, env: { PATH: process.env.PATH ?? '', HOME: app } })
  t.same(JSON.parse(started.stdout.trim().split('\n').pop() ?? '{}'), { status: 200, plans: 5, errors: 'function' })
  const bin = await run(path.join(app, 'node_modules/.bin/atlas-broker'), ['catalog'], { cwd: app, env: { PATH: process.env.PATH ?? '', HOME: app } })
  t.match(JSON.parse(bin.stdout), { services: [{ name: 'atlas-mongodb-cluster' }] })
})

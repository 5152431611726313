/**
 * `npm start` as a process on a fresh machine: no credentials → local mode; it prints the login and a curl
 * that works, serves the catalog over real HTTP, and stops cleanly on SIGTERM. Invalid settings stop it
 * with one message naming them.
 */
import { spawn } from 'node:child_process'
import t from 'tap'

const root = new URL('../..', import.meta.url).pathname

function start (env: Record<string, string>, args = ['src/app/dev.ts']): { child: ReturnType<typeof spawn>, output: () => string, exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let text = ''
  child.stdout?.on('data', (chunk: Buffer) => { text += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { text += chunk.toString() })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  return { child, output: () => text, exited }
}

/** Starts `npm start`'s entry in local mode and waits for its banner; returns the URL and the OSB headers. */
async function startLocal (t: { teardown: (fn: () => unknown) => void }, env: Record<string, string>): Promise<ReturnType<typeof start> & { url: string, headers: Record<string, string> }> {
  const started = start({ PORT: '0', ...env })
  t.teardown(() => { if (started.child.exitCode === null) started.child.kill('SIGKILL') })
  const deadline = Date.now() + 30_000
  while (!/curl -s -u/.test(started.output()) && Date.now() < deadline && started.child.exitCode === null) await new Promise(resolve => setTimeout(resolve, 50))
  const login = /basic auth:\s+(\S+) \/ (\S+)/.exec(started.output())
  const url = /broker URL:\s+(http:\/\/\S+)/.exec(started.output())?.[1]
  if (login === null || url === undefined) throw new Error(`the broker did not start: ${started.output()}`)
  const headers = { authorization: `Basic ${Buffer.from(`${login[1]}:${login[2]}`).toString('base64')}`, 'X-Broker-API-Version': '2.17', 'content-type': 'application/json' }
  return { ...started, url, headers }
}

t.test('the production entries without Atlas credentials: one message naming the missing settings and LOCAL_MODE=true', async t => {
  for (const args of [['src/app/main.ts'], ['src/app/cli.ts', 'serve']]) {
    const entry = args.join(' ')
    const { child, output, exited } = start({ PORT: '0', ATLAS_PUBLICKEY: 'typo' }, args)
    t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
    t.equal(await exited, 2, `${entry}: exit 2`)
    const text = output()
    t.match(text, /not set: ATLAS_PUBLIC_KEY and ATLAS_PRIVATE_KEY \(or ATLAS_CLIENT_ID and ATLAS_CLIENT_SECRET\), ATLAS_PROJECT_ID, BROKER_USERNAME, BROKER_PASSWORD, CREDENTIALS_SECRET/, entry)
    t.match(text, /LOCAL_MODE=true/, entry)
    t.match(text, /misspelled\?\): ATLAS_PUBLICKEY/, `${entry}: the misspelled key is named`)
    t.notMatch(text, /\n\s+at /, `${entry}: no stack trace`)
    t.notMatch(text, /LOCAL MODE|listening/i, `${entry}: nothing served`)
  }
})

t.test('local mode from a bare environment (npm start)', async t => {
  const { child, output, exited } = start({ PORT: '0', LOG_LEVEL: 'warn' })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const deadline = Date.now() + 30_000
  while (!/curl -s -u/.test(output()) && Date.now() < deadline && child.exitCode === null) await new Promise(resolve => setTimeout(resolve, 50))
  const text = output()
  t.match(text, /LOCAL MODE/)
  t.match(text, /not for production/)
  const login = /basic auth:\s+(\S+) \/ (\S+)/.exec(text)
  const url = /broker URL:\s+(http:\/\/\S+)/.exec(text)
  t.ok(login !== null && url !== null, 'login and URL printed')
  const response = await fetch(`${url![1]}/v2/catalog`, {
    headers: { authorization: `Basic ${Buffer.from(`${login![1]}:${login![2]}`).toString('base64')}`, 'X-Broker-API-Version': '2.17' }
  })
  t.equal(response.status, 200)
  const catalog = await response.json() as { services: Array<{ name: string }> }
  t.equal(catalog.services[0]?.name, 'atlas-mongodb-cluster')
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'clean exit on SIGTERM')
})

t.test('SIGTERM during a request: the request completes, then the process exits 0', async t => {
  const { child, exited, url, headers } = await startLocal(t, { LOG_LEVEL: 'warn', LOCAL_SIM_PROPAGATION_SECONDS: '1.5', USER_PROPAGATION_POLL_MS: '50' })
  const ids = { service_id: '2a04f349-4aab-4fcb-af6d-8e1749a77c13', plan_id: '8db474d1-3cc0-4f4d-b864-24e3bd49b874' }
  t.equal((await fetch(`${url}/v2/service_instances/g1`, { method: 'PUT', headers, body: JSON.stringify({ ...ids, organization_guid: 'o', space_guid: 's' }) })).status, 201)
  // The bind waits ~1.5 s for the simulated propagation; SIGTERM arrives in the middle.
  const bind = fetch(`${url}/v2/service_instances/g1/service_bindings/b1`, { method: 'PUT', headers, body: JSON.stringify(ids) })
  await new Promise(resolve => setTimeout(resolve, 400))
  child.kill('SIGTERM')
  t.equal((await bind).status, 201, 'the in-flight bind finished')
  t.equal(await exited, 0)
})

t.test('invalid settings stop start-up with one message naming each', async t => {
  const { output, exited } = start({ PORT: 'x', ATLAS_PUBLIC_KEY: 'pub' })
  t.equal(await exited, 2)
  t.match(output(), /invalid configuration/)
  t.match(output(), /PORT/)
})

t.test('start-up failures an operator fixes: one sentence naming the setting, the documented exit code, no stack trace', async t => {
  const { createServer } = await import('node:net')
  const taken = createServer()
  await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise<void>(resolve => taken.close(() => resolve())))
  const port = String((taken.address() as { port: number }).port)
  const inUse = start({ PORT: port, LOG_LEVEL: 'silent' })
  t.equal(await inUse.exited, 1, 'port in use: exit 1')
  t.match(inUse.output(), new RegExp(`atlas-broker: PORT: port ${port} on 127\\.0\\.0\\.1 is already in use by another process; stop it or choose another PORT`))
  t.notMatch(inUse.output(), /\n\s+at /, 'no stack trace')
  const tls = start({ PORT: '0', LOG_LEVEL: 'silent', TLS_CERT_FILE: '/nonexistent/cert.pem', TLS_KEY_FILE: '/nonexistent/key.pem' })
  t.equal(await tls.exited, 2, 'configuration: exit 2')
  t.match(tls.output(), /TLS_CERT_FILE: cannot read \/nonexistent\/cert\.pem \(no such file\)/)
  t.notMatch(tls.output(), /\n\s+at /, 'no stack trace')
  const policies = start({ PORT: '0', LOG_LEVEL: 'silent', POLICIES_DIR: '/nonexistent/policies' })
  t.equal(await policies.exited, 2)
  t.match(policies.output(), /POLICIES_DIR: folder \/nonexistent\/policies does not exist/)
})

t.test('SIGTERM right after a burst of requests: every access-log line is written (asynchronous log, flushed on exit)', async t => {
  const { child, output, exited, url, headers } = await startLocal(t, { LOG_LEVEL: 'info' })
  const body = JSON.stringify({ service_id: '2a04f349-4aab-4fcb-af6d-8e1749a77c13', plan_id: '8db474d1-3cc0-4f4d-b864-24e3bd49b874', organization_guid: 'o', space_guid: 's' })
  await Promise.all(Array.from({ length: 20 }, async (_, i) => {
    const r = await fetch(`${url}/v2/service_instances/burst-${i}`, { method: 'PUT', headers, body })
    t.equal(r.status, 201)
  }))
  child.kill('SIGTERM')
  t.equal(await exited, 0)
  const lines = output().split('\n').filter(line => line.includes('"msg":"request"') && line.includes('burst-'))
  t.equal(lines.length, 20, 'one line per request, none lost')
  t.match(output(), /"msg":"stopped"/, 'the last line is there too')
})

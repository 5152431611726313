/**
 * Two broker processes on one MongoDB (runs where a mongod is given): 50 concurrent identical provisions and
 * binds spread over both give one instance, exactly one Atlas user per binding, and the same answers.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { MongoClient } from 'mongodb'
import { AtlasSimulator } from '../../src/adapters/atlas/simulator/atlas-simulator.js'
import { SEED_PLAN_ID, SEED_SERVICE_ID } from '../../src/app/default-catalog.js'
import { NO_MONGO_REASON, startMongo } from '../helpers/mongo.js'

const mongo = await startMongo()
if (mongo === undefined) {
  t.comment(`skipped: the two-replica MongoDB test (${NO_MONGO_REASON})`)
  t.plan(0, `skipped: ${NO_MONGO_REASON}`)
} else {
  const root = new URL('../..', import.meta.url).pathname
  const database = `atlas_broker_replicas_${randomBytes(4).toString('hex')}`

  async function startReplica (env: Record<string, string>): Promise<{ child: ChildProcess, url: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/app/main.ts'], {
      cwd: root, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe']
    })
    const url = await new Promise<string>((resolve, reject) => {
      let text = ''
      const timer = setTimeout(() => reject(new Error(`replica did not start: ${text}`)), 30_000)
      child.stdout?.on('data', (chunk: Buffer) => {
        text += chunk.toString()
        const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(text)
        if (match?.[1] !== undefined) { clearTimeout(timer); resolve(match[1]) }
      })
      child.on('exit', code => { clearTimeout(timer); reject(new Error(`replica exited ${String(code)}: ${text}`)) })
    })
    return { child, url }
  }

  t.test('two replicas, one MongoDB, 50 concurrent identical requests', async t => {
    const sim = new AtlasSimulator({ seedClusters: ['Main'], delays: { clusterCreateMs: 0, clusterUpdateMs: 0, clusterDeleteMs: 0, flexCreateMs: 0, userPropagationMs: 50 } })
    const simUrl = await sim.listen()
    const env = {
      PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ATLAS_BASE_URL: simUrl, ATLAS_PROJECT_ID: sim.projectId,
      ATLAS_PUBLIC_KEY: sim.publicKey, ATLAS_PRIVATE_KEY: sim.privateKey, ATLAS_DEFAULT_CLUSTER: 'Main',
      BROKER_USERNAME: 'platform', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 's'.repeat(32),
      MONGODB_URI: mongo.uri, MONGODB_DATABASE: database, USER_PROPAGATION_POLL_MS: '20'
    }
    const a = await startReplica(env)
    const b = await startReplica(env)
    t.teardown(async () => {
      a.child.kill('SIGTERM')
      b.child.kill('SIGTERM')
      await sim.close()
      const client = new MongoClient(mongo.uri)
      await client.db(database).dropDatabase()
      await client.close()
      await mongo.stop()
    })
    const headers = { authorization: `Basic ${Buffer.from('platform:a-long-password').toString('base64')}`, 'X-Broker-API-Version': '2.17', 'content-type': 'application/json' }
    const put = async (base: string, path: string, body: unknown): Promise<{ status: number, body: Record<string, unknown> }> => {
      const r = await fetch(`${base}${path}`, { method: 'PUT', headers, body: JSON.stringify(body) })
      return { status: r.status, body: await r.json() as Record<string, unknown> }
    }
    const provisions = await Promise.all(Array.from({ length: 50 }, async (_, i) =>
      await put(i % 2 === 0 ? a.url : b.url, '/v2/service_instances/shared-1', { service_id: SEED_SERVICE_ID, plan_id: SEED_PLAN_ID, organization_guid: 'o', space_guid: 's' })))
    t.equal(provisions.filter(r => r.status === 201).length, 1, 'one 201')
    t.equal(provisions.filter(r => r.status === 200).length, 49, 'the rest 200')

    const binds = await Promise.all(Array.from({ length: 50 }, async (_, i) =>
      await put(i % 2 === 0 ? a.url : b.url, '/v2/service_instances/shared-1/service_bindings/bind-1', { service_id: SEED_SERVICE_ID, plan_id: SEED_PLAN_ID })))
    const statuses = binds.map(r => r.status)
    t.ok(statuses.every(s => s === 201 || s === 200 || s === 422), statuses.join(','))
    t.equal(statuses.filter(s => s === 201).length, 1, 'one 201')
    t.equal(sim.databaseUsers().length, 1, 'exactly one Atlas user')
    const passwords = new Set(binds.filter(r => r.status !== 422).map(r => (r.body.credentials as Record<string, unknown>).password))
    t.equal(passwords.size, 1, 'the same credentials from both replicas')
  })
}

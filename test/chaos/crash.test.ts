/**
 * Crash (bounded, loopback only): the broker runs as its own process and is killed with SIGKILL, again and
 * again, in the middle of provisions, binds, unbinds and deprovisions, and restarted on the same port. Its
 * state outlives it: always in a store served by this test process (RemoteStorage, contract-tested), and
 * also in a real MongoDB when one is given (MONGODB_URI / MONGOMS_SYSTEM_BINARY; otherwise that run is skipped
 * with one line). One lifecycle in ten is on the flex plan and one in ten on a flex plan that gives the
 * instance its own project (asynchronous: 202, polling, cluster create and delete take Atlas a while). Atlas is the simulator, also here, with user propagation slow enough that kills land between creating a
 * user and recording it. The platform retries as real ones do: half the lifecycles replay a failed PUT
 * until it succeeds, half send DELETE (orphan mitigation) at once; every DELETE is repeated until 200/410.
 * At the end Atlas and the records must agree exactly as in the chaos test: nothing live, no Atlas user
 * left, and the sweep finds no orphan.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { MongoClient } from 'mongodb'
import t, { type Test } from 'tap'
import { HttpAtlasAdapter } from '../../src/adapters/atlas/http-atlas-adapter.js'
import { AtlasSimulator } from '../../src/adapters/atlas/simulator/atlas-simulator.js'
import { MemoryStorage } from '../../src/adapters/storage/memory-storage.js'
import { MongoStorage } from '../../src/adapters/storage/mongo-storage.js'
import { DEDICATED_PLAN_IDS, SEED_PLAN_ID, SEED_SERVICE_ID } from '../../src/app/default-catalog.js'
import { findOrphans } from '../../src/domain/sweep.js'
import type { StoragePort } from '../../src/ports/storage-port.js'
import { serveStorage } from '../fakes/remote-storage.js'
import { catalogFile, OWN_PROJECT_PLAN_ID, withOwnProjectPlan } from '../helpers/catalogs.js'
import { NO_MONGO_REASON, startMongo } from '../helpers/mongo.js'
import { deleteAndPoll, deleteQuery, deleteUntilGone as platformDelete, pollUntilDone, type ReadState } from '../helpers/platform.js'

t.setTimeout(600_000)
const LIFECYCLES = 60
const CONCURRENCY = 12
const KILLS = 8
const MAIN = fileURLToPath(new URL('../helpers/crash-broker-main.ts', import.meta.url))

async function freePort (): Promise<number> {
  return await new Promise(resolve => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Where the broker keeps its state across kills: the argument for crash-broker-main, extra settings, and the test's view of it. */
interface CrashStore { arg: string, settings: Record<string, string>, storage: StoragePort, close: () => Promise<void> }

async function crashRun (t: Test, open: () => Promise<CrashStore>): Promise<void> {
  const sim = new AtlasSimulator({ seedClusters: ['Main'], delays: { clusterCreateMs: 0, clusterUpdateMs: 0, clusterDeleteMs: 800, flexCreateMs: 1500, userPropagationMs: 300 } })
  const simUrl = await sim.listen()
  // One lifecycle in ten is on a plan that gives each instance its own project (an organisation key).
  const orgKey = sim.addOrgKey()
  const file = catalogFile(withOwnProjectPlan(sim.orgId).catalog, 'crash')
  const store = await open()
  const { storage } = store
  t.teardown(async () => { await store.close(); await sim.close() })
  // Atlas answers slowly now and then, so kills also land while a call to Atlas is in flight.
  sim.addFault({ kind: 'latency', ms: 250, rate: 0.2 })

  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const settings = {
    ATLAS_BASE_URL: simUrl, ATLAS_PROJECT_ID: sim.projectId, ATLAS_PUBLIC_KEY: sim.publicKey, ATLAS_PRIVATE_KEY: sim.privateKey,
    ATLAS_DEFAULT_CLUSTER: 'Main', BROKER_USERNAME: 'platform', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'c'.repeat(32),
    USER_PROPAGATION_POLL_MS: '20', OPERATION_BUDGET_MS: '2000', LOG_LEVEL: 'warn', CATALOG_FILE: file,
    ATLAS_CREDENTIALS_ORG_PUBLIC_KEY: orgKey.publicKey, ATLAS_CREDENTIALS_ORG_PRIVATE_KEY: orgKey.privateKey, ...store.settings
  }

  let child: ChildProcess | undefined
  const output: string[] = []
  const start = async (): Promise<void> => {
    const proc = spawn(process.execPath, ['--import=tsx', MAIN, store.arg, String(port), JSON.stringify(settings)], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    proc.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()))
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', (chunk: Buffer) => {
        const text = chunk.toString()
        if (text.includes('ready')) resolve()
        else output.push(text)
      })
      proc.once('exit', code => reject(new Error(`broker exited (${String(code)}) before it was ready: ${output.join('').slice(-2000)}`)))
    })
  }
  const kill = async (): Promise<void> => {
    const proc = child
    if (proc === undefined || proc.exitCode !== null) return
    const exited = new Promise(resolve => proc.once('exit', resolve))
    proc.kill('SIGKILL')
    await exited
  }
  t.teardown(kill)
  await start()

  const headers = { authorization: `Basic ${Buffer.from('platform:a-long-password').toString('base64')}`, 'x-broker-api-version': '2.17', 'content-type': 'application/json' }
  const statuses = new Map<number, number>()
  const samples = new Map<number, string>()
  /** One platform request; 0 when the connection failed (the broker died under it or is restarting). */
  const send = async (method: 'PUT' | 'DELETE', path: string, body?: unknown): Promise<number> => {
    let status = 0
    try {
      const r = await fetch(`${base}${path}`, { method, headers, signal: AbortSignal.timeout(30_000), ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
      const text = await r.text()
      status = r.status
      if (!samples.has(status)) samples.set(status, text.slice(0, 300))
    } catch {
      status = 0
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1)
    return status
  }
  const deleteUntilGone = async (path: string): Promise<void> => { await platformDelete(send, path, { pauseMs: 250 }) }
  let replayedToSuccess = 0
  /**
   * A platform that replays a PUT (same body) while the broker cannot take it (no answer, 5xx, 422); the
   * first other answer's status, or the last one when it gives up.
   */
  const putUntilAnswered = async (path: string, body: unknown): Promise<number> => {
    const giveUp = Date.now() + 90_000
    let status = 0
    for (let attempt = 0; Date.now() < giveUp; attempt++) {
      status = await send('PUT', path, body)
      if (status !== 0 && status < 500 && status !== 422) {
        if (attempt > 0 && status < 300) replayedToSuccess++
        return status
      }
      await sleep(250)
    }
    return status
  }

  const readState: ReadState = async path => {
    try {
      const r = await fetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(30_000) })
      const body = await r.json() as { state?: string }
      return r.status === 200 ? body.state : undefined
    } catch {
      return undefined
    }
  }
  const poll = { pauseMs: 200 }

  let completed = 0
  let clusterLifecycles = 0
  /** Every fifth lifecycle is on a cluster plan (flex): 202 and polling, and kills land mid-create too. */
  const lifecycle = async (n: number): Promise<void> => {
    const planId = n % 10 === 2 ? DEDICATED_PLAN_IDS.flex : n % 10 === 7 ? OWN_PROJECT_PLAN_ID : SEED_PLAN_ID
    const async = planId !== SEED_PLAN_ID
    if (async) clusterLifecycles++
    const instance = `/v2/service_instances/crash-${n}`
    const binding = `${instance}/service_bindings/b-${n}`
    const provisionBody = { service_id: SEED_SERVICE_ID, plan_id: planId, organization_guid: 'o', space_guid: 's' }
    const bindBody = { service_id: SEED_SERVICE_ID, plan_id: planId }
    const replay = n % 2 === 0
    const deleteInstance = async (): Promise<void> => {
      if (async) await deleteAndPoll(send, readState, instance, planId, poll)
      else await deleteUntilGone(instance)
    }
    const put = async (path: string, body: unknown): Promise<number> => replay ? await putUntilAnswered(path, body) : await send('PUT', path, body)
    // An async PUT answers 202 (a replay: the same operation) while the create goes on; the platform polls.
    const status = await put(async ? `${instance}?accepts_incomplete=true` : instance, provisionBody)
    const provisioned = async
      ? status === 200 || (status === 202 && await pollUntilDone(readState, instance, planId, poll) === 'succeeded')
      : status === 200 || status === 201
    if (!provisioned) { await deleteInstance(); return }
    await put(binding, bindBody)
    // Unbind whatever the bind answered: after a failed bind this is the platform's orphan mitigation.
    await platformDelete(send, binding, { pauseMs: 250, query: deleteQuery(planId) })
    await deleteInstance()
    completed++
  }

  let next = 0
  let kills = 0
  let platformDone = false
  const killer = (async () => {
    while (kills < KILLS && !platformDone) {
      await sleep(400 + Math.floor(Math.random() * 1100))
      await kill()
      kills++
      await sleep(50)
      await start()
    }
  })()
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < LIFECYCLES) await lifecycle(next++)
  }))
  platformDone = true
  await killer

  t.comment(`${kills} kills, ${completed} full lifecycles (${clusterLifecycles} on the flex plan), ${replayedToSuccess} PUTs succeeded on a replay, statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
  t.comment(`one answer of each error status: ${JSON.stringify(Object.fromEntries([...samples].filter(([s]) => s >= 400)))}`)
  t.equal(kills, KILLS, 'the broker was killed the planned number of times while the platform was busy')
  t.ok((statuses.get(0) ?? 0) > 0, 'kills cut requests off mid-flight (connection failures seen by the platform)')

  // Read through the port, so the same checks hold for every store: every id the platform used is gone.
  const live: string[] = []
  for (let n = 0; n < LIFECYCLES; n++) {
    const instance = await storage.getInstance(`crash-${n}`)
    if (instance !== undefined && instance.state !== 'deleted') live.push(`instance crash-${n} ${instance.state}`)
    const binding = await storage.getBinding(`b-${n}`)
    if (binding !== undefined && binding.state !== 'deleted') live.push(`binding b-${n} ${binding.state}`)
  }
  t.same(live, [], 'no live instance or binding left')
  t.equal(await storage.countOperationsInProgress(), 0, 'no operation left in progress')
  t.same(sim.databaseUsers().map(u => u.username), [], 'no Atlas user left behind')
  t.same(sim.clusterNames(), ['Main'], 'no Atlas cluster left behind (only the seeded one)')
  t.same(sim.projectIds(), [sim.projectId], 'no project of an instance left behind')
  const sweeper = new HttpAtlasAdapter({ baseUrl: simUrl, projectId: sim.projectId, credentials: { kind: 'digest', publicKey: sim.publicKey, privateKey: sim.privateKey } })
  t.teardown(() => sweeper.close())
  t.same(await findOrphans(sweeper, storage), [], 'the sweep finds no orphans')
  if (!t.passing()) t.comment(output.join('').slice(-4000))
}

t.test(`SIGKILL during ${LIFECYCLES} lifecycles (state in a store outside the broker process): Atlas and the records stay consistent`, async t => {
  await crashRun(t, async () => {
    const memory = new MemoryStorage()
    const served = await serveStorage(memory)
    return { arg: served.url, settings: {}, storage: memory, close: served.close }
  })
})

const mongo = await startMongo()
t.test(`SIGKILL during ${LIFECYCLES} lifecycles (state in MongoDB): Atlas and the records stay consistent`, mongo === undefined ? { skip: NO_MONGO_REASON } : {}, async t => {
  if (mongo === undefined) return
  const database = `atlas_broker_crash_${randomBytes(4).toString('hex')}`
  await crashRun(t, async () => {
    const storage = await MongoStorage.connect({ uri: mongo.uri, database, collection: 'broker', timeoutMs: 5000 })
    return {
      arg: 'config',
      settings: { MONGODB_URI: mongo.uri, MONGODB_DATABASE: database },
      storage,
      close: async () => {
        await storage.close()
        const client = new MongoClient(mongo.uri)
        await client.db(database).dropDatabase()
        await client.close()
        await mongo.stop()
      }
    }
  })
})

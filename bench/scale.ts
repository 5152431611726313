/**
 * Cost as work grows: the broker's own time per OSB call with 10,000 instances and 30,000 bindings already
 * stored, against an empty store, in the same run (in-process, in-memory store, the simulator as Atlas).
 * Rounds alternate between the two stores; each round runs shared-plan lifecycles through `inject` and
 * takes the broker's own time as the round's time less the Atlas exchange time the broker records in
 * /metrics (scraped before and after the round, outside the timing).
 */
import { execFile } from 'node:child_process'
import { Writable } from 'node:stream'
import { promisify } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import pino from 'pino'
import { AtlasSimulator } from '../src/adapters/atlas/simulator/atlas-simulator.js'
import { MemoryStorage } from '../src/adapters/storage/memory-storage.js'
import { composeBroker, type RunningBroker } from '../src/app/compose.js'
import { loadConfig } from '../src/app/config.js'
import { loggerOptions } from '../src/app/logger.js'
import { BINDING_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../src/domain/kit.js'
import type { BindingRecord, InstanceRecord, RecordChanges } from '../src/ports/storage-port.js'

const SERVICE = '2a04f349-4aab-4fcb-af6d-8e1749a77c13'
const PLAN = '8db474d1-3cc0-4f4d-b864-24e3bd49b874'

export interface ScaleResult {
  storedInstances: number
  storedBindings: number
  fillMs: number
  ownMsPerCall: { empty: number, full: number, ratio: number, rounds: { empty: number[], full: number[] } }
}

/** Records like the broker's own, on the same cluster as the measured ones, three bindings per instance. */
export async function fill (storage: MemoryStorage, instances: number, bindingsPer: number): Promise<void> {
  const at = new Date().toISOString()
  const op = (kind: 'provision' | 'bind') => ({ id: `op-${kind}`, kind, state: 'succeeded' as const, startedAt: at, updatedAt: at })
  for (let i = 0; i < instances; i++) {
    const id = `stored-${i}`
    await storage.createInstance({
      id, state: 'ready', lastOperation: op('provision'), serviceId: SERVICE, planId: PLAN, organizationGuid: 'o', spaceGuid: 's',
      parameters: {}, cluster: 'Cluster0', database: id
    })
    for (let b = 0; b < bindingsPer; b++) {
      await storage.createBinding({
        id: `${id}-b${b}`, state: 'ready', lastOperation: op('bind'), instanceId: id, serviceId: SERVICE, planId: PLAN, parameters: {},
        username: `${id}-b${b}`, roles: [{ roleName: 'readWrite', databaseName: id }], cluster: 'Cluster0', database: id
      })
    }
  }
}

export async function start (storage: MemoryStorage): Promise<{ broker: RunningBroker, sim: AtlasSimulator }> {
  const sim = new AtlasSimulator({ seedClusters: ['Cluster0'] })
  const url = await sim.listen()
  const sink = new Writable({ write (_chunk, _enc, done) { done() } })
  const broker = await composeBroker(loadConfig({
    ATLAS_BASE_URL: url, ATLAS_PROJECT_ID: sim.projectId, ATLAS_PUBLIC_KEY: sim.publicKey, ATLAS_PRIVATE_KEY: sim.privateKey,
    ATLAS_DEFAULT_CLUSTER: 'Cluster0', BROKER_USERNAME: 'bench', BROKER_PASSWORD: 'bench-password-123', CREDENTIALS_SECRET: 'b'.repeat(32),
    USER_PROPAGATION_POLL_MS: '10'
  }), pino(loggerOptions('info'), sink), { storage })
  return { broker, sim }
}

/** Seconds the broker has spent in Atlas exchanges, summed from its /metrics text. */
export function atlasExchangeSeconds (metrics: string): number {
  let sum = 0
  for (const m of metrics.matchAll(/^atlas_broker_atlas_request_duration_seconds_sum\{[^}]*\} (\S+)$/gm)) sum += Number(m[1])
  return sum
}

/** Milliseconds of the broker's own time per OSB call over `cycles` lifecycles. */
export async function round (broker: RunningBroker, tag: string, cycles: number): Promise<number> {
  const headers = { authorization: `Basic ${Buffer.from('bench:bench-password-123').toString('base64')}`, 'x-broker-api-version': '2.17', 'content-type': 'application/json' }
  const atlasSeconds = async (): Promise<number> => atlasExchangeSeconds((await broker.app.inject({ method: 'GET', url: '/metrics', headers })).body)
  const q = `service_id=${SERVICE}&plan_id=${PLAN}`
  const send = async (method: 'PUT' | 'DELETE', url: string, body?: unknown): Promise<void> => {
    const r = await broker.app.inject({ method, url, headers, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) })
    if (r.statusCode >= 300) throw new Error(`${method} ${url} answered ${r.statusCode}`)
  }
  const atlasBefore = await atlasSeconds()
  const started = performance.now()
  for (let i = 0; i < cycles; i++) {
    const id = `${tag}-${i}`
    await send('PUT', `/v2/service_instances/${id}`, { service_id: SERVICE, plan_id: PLAN, organization_guid: 'o', space_guid: 's' })
    await send('PUT', `/v2/service_instances/${id}/service_bindings/${id}-b`, { service_id: SERVICE, plan_id: PLAN })
    await send('DELETE', `/v2/service_instances/${id}/service_bindings/${id}-b?${q}`)
    await send('DELETE', `/v2/service_instances/${id}?${q}`)
  }
  const elapsed = performance.now() - started
  const atlasMs = (await atlasSeconds() - atlasBefore) * 1000
  return Math.round(((elapsed - atlasMs) / (cycles * 4)) * 1000) / 1000
}

export async function scaleBench (options: { instances?: number, bindingsPer?: number, rounds?: number, cycles?: number } = {}): Promise<ScaleResult> {
  const instances = options.instances ?? 10_000
  const bindingsPer = options.bindingsPer ?? 3
  const rounds = options.rounds ?? 3
  const cycles = options.cycles ?? 200
  const fullStore = new MemoryStorage()
  const fillStarted = performance.now()
  await fill(fullStore, instances, bindingsPer)
  const fillMs = Math.round(performance.now() - fillStarted)
  const empty = await start(new MemoryStorage())
  const full = await start(fullStore)
  try {
    await round(empty.broker, 'warm-e', 20)
    await round(full.broker, 'warm-f', 20)
    const times = { empty: [] as number[], full: [] as number[] }
    for (let r = 0; r < rounds; r++) {
      times.empty.push(await round(empty.broker, `e${r}`, cycles))
      times.full.push(await round(full.broker, `f${r}`, cycles))
    }
    const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!
    const e = median(times.empty)
    const f = median(times.full)
    return { storedInstances: instances, storedBindings: instances * bindingsPer, fillMs, ownMsPerCall: { empty: e, full: f, ratio: Math.round((f / e) * 100) / 100, rounds: times } }
  } finally {
    for (const { broker, sim } of [empty, full]) { await broker.close(); await sim.close() }
  }
}

/**
 * A memory store that forgets deleted tombstones, as if kept outside the process (MongoDB keeps them in the
 * database): what stays in the heap after it is the broker's own.
 */
class TombstonesElsewhere extends MemoryStorage {
  override async updateInstance (id: string, expectedVersion: number, changes: RecordChanges<InstanceRecord>): Promise<InstanceRecord> {
    const updated = await super.updateInstance(id, expectedVersion, changes)
    if (updated.state === 'deleted') await this.deleteInstance(id, updated.version)
    return updated
  }

  override async updateBinding (id: string, expectedVersion: number, changes: RecordChanges<BindingRecord>): Promise<BindingRecord> {
    const updated = await super.updateBinding(id, expectedVersion, changes)
    if (updated.state === 'deleted') await this.deleteBinding(id, updated.version)
    return updated
  }
}

export interface LeakResult { cycles: number, heapAfterWarmMb: number, heapAtHalfMb: number, heapAtEndMb: number, growthHalfToEndMb: number }

/** Heap in use after full collections, once `cycles / 2` and once `cycles` lifecycles have run (tombstones elsewhere). */
export async function leakCheck (cycles = 10_000): Promise<LeakResult> {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const heapMb = (): number => { gc(); gc(); return Math.round(process.memoryUsage().heapUsed / 1e5) / 10 }
  const { broker, sim } = await start(new TombstonesElsewhere())
  try {
    await round(broker, 'leak-warm', 500)
    const heapAfterWarmMb = heapMb()
    const half = Math.floor(cycles / 2)
    await round(broker, 'leak-a', half)
    const heapAtHalfMb = heapMb()
    await round(broker, 'leak-b', cycles - half)
    const heapAtEndMb = heapMb()
    return { cycles, heapAfterWarmMb, heapAtHalfMb, heapAtEndMb, growthHalfToEndMb: Math.round((heapAtEndMb - heapAtHalfMb) * 10) / 10 }
  } finally {
    await broker.close()
    await sim.close()
  }
}

export interface SweepResult { users: number, orphans: number, seconds: number, peakHeapGrowthMb: { paged: number, listedFirst: number, pagedWithAThird: number } }

/**
 * `sweep` over `users` labelled Atlas users, all but 100 with a live binding record (the simulator in this
 * process, the sweep in a child of its own so the simulator's memory is not counted): time, and the child's
 * peak heap growth while it runs (garbage included), paged as the broker does, against listing every user
 * first, and paged with a third as many users (bounded: about the same).
 */
export async function sweepBench (users = 30_000): Promise<SweepResult> {
  const third = await sweepOnce(Math.floor(users / 3), ['paged'])
  const all = await sweepOnce(users, ['paged', 'listed-first'])
  return { users, orphans: all.paged!.orphans, seconds: all.paged!.seconds, peakHeapGrowthMb: { paged: all.paged!.peakHeapGrowthMb, listedFirst: all['listed-first']!.peakHeapGrowthMb, pagedWithAThird: third.paged!.peakHeapGrowthMb } }
}

type SweepMode = 'paged' | 'listed-first'
interface SweepRun { orphans: number, seconds: number, peakHeapGrowthMb: number }

async function sweepOnce (users: number, modes: SweepMode[]): Promise<Partial<Record<SweepMode, SweepRun>>> {
  const sim = new AtlasSimulator({ seedClusters: ['Cluster0'] })
  const url = await sim.listen()
  const seeded: Array<{ username: string, labels: Array<{ key: string, value: string }> }> = []
  for (let n = 0; n < users; n++) {
    const owner = n < users - 100 ? `stored-${Math.floor(n / 3)}-b${n % 3}` : `gone-${n}`
    seeded.push({ username: `u-${n}`, labels: [{ key: MANAGED_BY_LABEL, value: MANAGED_BY }, { key: BINDING_LABEL, value: owner }] })
  }
  sim.seedDatabaseUsers(seeded)
  const child = async (mode: SweepMode): Promise<SweepRun> => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--expose-gc', new URL('./sweep-child.ts', import.meta.url).pathname], {
      env: { ...process.env, SWEEP_SIM: JSON.stringify({ url, projectId: sim.projectId, publicKey: sim.publicKey, privateKey: sim.privateKey }), SWEEP_USERS: String(users), SWEEP_MODE: mode }
    })
    return JSON.parse(stdout) as SweepRun
  }
  try {
    const runs: Partial<Record<SweepMode, SweepRun>> = {}
    for (const mode of modes) runs[mode] = await child(mode)
    return runs
  } finally {
    await sim.close()
  }
}

/**
 * One sweep, run by bench/scale.ts in a process of its own: fills an in-memory store with the bindings the
 * simulator's users name, then checks every user (SWEEP_MODE `paged`: as `sweep` does; `listed-first`: the
 * whole list fetched before checking) and prints the orphans found, the time and the peak heap growth.
 */
import { HttpAtlasAdapter } from '../src/adapters/atlas/http-atlas-adapter.js'
import { MemoryStorage } from '../src/adapters/storage/memory-storage.js'
import { BINDING_LABEL } from '../src/domain/kit.js'
import { findOrphans } from '../src/domain/sweep.js'
import { fill } from './scale.js'

const sim = JSON.parse(process.env.SWEEP_SIM ?? '{}') as { url: string, projectId: string, publicKey: string, privateKey: string }
const users = Number(process.env.SWEEP_USERS ?? '30000')
const storage = new MemoryStorage()
await fill(storage, Math.ceil(users / 3), 3)
const atlas = new HttpAtlasAdapter({ baseUrl: sim.url, projectId: sim.projectId, credentials: { kind: 'digest', publicKey: sim.publicKey, privateKey: sim.privateKey } })
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
gc(); gc()
const base = process.memoryUsage().heapUsed
let peak = base
const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().heapUsed) }, 5)
const started = performance.now()
let orphans = 0
if (process.env.SWEEP_MODE === 'listed-first') {
  for (const user of await atlas.listDatabaseUsers()) {
    const record = await storage.getBinding(user.labels.find(l => l.key === BINDING_LABEL)?.value ?? '')
    if (record === undefined) orphans++
  }
} else {
  orphans = (await findOrphans(atlas, storage)).length
}
const seconds = Math.round((performance.now() - started) / 100) / 10
clearInterval(timer)
await atlas.close()
console.log(JSON.stringify({ orphans, seconds, peakHeapGrowthMb: Math.round((peak - base) / 1e5) / 10 }))

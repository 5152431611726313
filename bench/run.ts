/**
 * `npm run bench` (not part of npm test): builds, then measures on this machine, loopback only, bounded:
 *   1. catalog throughput and latency (wrk when installed, else autocannon; in its own process) at 32 and 128
 *      connections, against the broker and against a bare node:http server answering the same bytes, as a
 *      ratio (target ≥ 0.8), with each server's CPU time per request;
 *   2. shared-plan lifecycles (provision → bind → unbind → deprovision) against the simulator with no added
 *      latency: cycles/s, per-call latency, the broker's own time per call (latency less the Atlas exchange
 *      time the broker records in /metrics, scraped between calls) and Atlas round trips per call;
 *   3. start-up time to ready, resident memory idle (beside a Fastify server and a bare node:http server
 *      answering the same bytes), under load, and idle again once the load is over and the broker has probed
 *      Atlas (as a deployed broker idles), and the slowest answer when 128 connections open at once (broker
 *      and bare server);
 *   4. binds against a simulator whose new users take PROPAGATION_MS (default 5 s) to be APPLIED, at the
 *      default poll setting: Atlas HTTP calls per bind and bind latency, beside what fixed 1 s polling needs
 *      for the same propagation (computed: one check at once, then one a second until APPLIED);
 *   5. leak check: the compiled broker's RSS after 5,000 and after 10,000 shared-plan lifecycles
 *      (BENCH_LEAK_CYCLES; the in-memory store keeps two deleted tombstones per lifecycle, so RSS grows with
 *      them), and the heap after full collections in-process with tombstones kept outside the heap, as
 *      MongoDB keeps them (bench/scale.ts): what remains is the broker's own;
 *   6. cost as work grows (bench/scale.ts): own time per call with 10,000 instances and 30,000 bindings stored
 *      against an empty store, and `sweep` over 30,000 Atlas users (paged: bounded memory).
 * Results go to bench/results/latest.json and are printed as a table.
 * BENCH_SECONDS sets each load run's length (default 5); BENCH_ROUNDS how many times the broker and the bare
 * server are measured, alternately, per connection count (default 3; medians are reported); BENCH_LOAD=autocannon
 * uses autocannon even where wrk is installed; BENCH_NODE names the Node binary the servers run on.
 * With two or more cores and `taskset` available, servers run on core 1 and the load generator on core 0, so
 * neither steals the other's core and runs are comparable (the table says whether this was done).
 */
import { execFile } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { AtlasSimulator } from '../src/adapters/atlas/simulator/atlas-simulator.js'
import { IMAGE_NODE_FLAGS, IMAGE_NODE_OPTIONS } from '../scripts/image-command.js'
import {
  AUTH, burstSlowestMs, GENERATOR, load, type Load, percentile, PINNED, root, rssMb, SECONDS, SERVER_NODE, startBare, startBroker, startFastify
} from './load.js'
import { deploymentMemoryLimitMib } from './memory-limit.js'
import { type LeakResult, type ScaleResult, type SweepResult, atlasExchangeSeconds, leakCheck, scaleBench, sweepBench } from './scale.js'

const run = promisify(execFile)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '3')
const PROPAGATION_MS = Number(process.env.BENCH_PROPAGATION_MS ?? '5000')
const SERVICE = '2a04f349-4aab-4fcb-af6d-8e1749a77c13'
const PLAN = '8db474d1-3cc0-4f4d-b864-24e3bd49b874'

async function nodeVersion (node: string): Promise<string> {
  return (await run(node, ['--version'])).stdout.trim()
}

/**
 * Waits until a broker that has just gone idle has given memory back: its idle collection needs one whole
 * 10 s check interval without work, so at most 20 s after the work stopped, and 2 s to spare.
 */
const settle = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 22_000)) }
const step = (m: string): void => { if (process.env.BENCH_DEBUG !== undefined) console.error(`[bench] ${m}`) }

async function main (): Promise<void> {
  await run('npm', ['run', '--silent', 'build'], { cwd: root })
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version },
    method: { secondsPerRun: SECONDS, rounds: ROUNDS, pinnedCores: PINNED, loadGenerator: GENERATOR, serverNode: await nodeVersion(SERVER_NODE), brokerNodeOptions: IMAGE_NODE_OPTIONS, brokerNodeFlags: IMAGE_NODE_FLAGS }
  }

  // 1 + 3: catalog, start-up, memory.
  step('built')
  // Production settings: compiled output, default LOG_LEVEL and metrics, in-memory store, a separately
  // started simulator as Atlas (not local mode).
  const catalogSim = new AtlasSimulator({ seedClusters: ['Cluster0'] })
  const catalogSimUrl = await catalogSim.listen()
  const brokerEnv = {
    ATLAS_BASE_URL: catalogSimUrl, ATLAS_PROJECT_ID: catalogSim.projectId, ATLAS_PUBLIC_KEY: catalogSim.publicKey, ATLAS_PRIVATE_KEY: catalogSim.privateKey,
    ATLAS_DEFAULT_CLUSTER: 'Cluster0', CREDENTIALS_SECRET: 'b'.repeat(32)
  }
  const broker = await startBroker(brokerEnv)
  step('broker ready')
  const catalogBody = await (await fetch(`${broker.url}/v2/catalog`, { headers: { authorization: AUTH, 'x-broker-api-version': '2.17' } })).text()
  const bare = await startBare(catalogBody)
  const fastify = await startFastify(catalogBody)
  // Idle memory of the three (the broker has served one catalog request): a second after start, and settled,
  // 12 s after, once the broker's idle collection has run (its first check, 10 s after it listens, finds the
  // interval idle: src/app/idle-collection.ts) and, on Node 20, V8's memory reducer (about 8 s after start-up).
  const reading = (): { broker: number, fastify: number, bare: number } => ({ broker: rssMb(broker.child.pid), fastify: rssMb(fastify.child.pid), bare: rssMb(bare.child.pid) })
  await new Promise(resolve => setTimeout(resolve, 1000))
  const afterStart = reading()
  await new Promise(resolve => setTimeout(resolve, 11_000))
  const idle = reading()
  fastify.child.kill('SIGTERM')
  // A burst straight after start-up (one request served so far), where a stall would show first.
  const coldBurst = { broker: await burstSlowestMs(`${broker.url}/v2/catalog`), bare: await burstSlowestMs(bare.url) }
  step('bare ready')
  let peakRss = idle.broker
  const catalog: Record<string, unknown> = {}
  const median = (loads: Load[]): Load => [...loads].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)[Math.floor(loads.length / 2)]!
  for (const connections of [32, 128]) {
    // Alternate broker and bare runs so both see the same machine conditions; report each one's median run.
    const brokerRuns: Load[] = []
    const bareRuns: Load[] = []
    for (let round = 0; round < ROUNDS; round++) {
      brokerRuns.push(await load(`${broker.url}/v2/catalog`, connections, broker.child.pid, () => { peakRss = Math.max(peakRss, rssMb(broker.child.pid)) }))
      bareRuns.push(await load(bare.url, connections, bare.child.pid))
      step(`catalog ${connections} round ${round} done`)
    }
    const b = median(brokerRuns)
    const n = median(bareRuns)
    catalog[`c${connections}`] = {
      broker: b,
      bare: n,
      ratio: Math.round((b.requestsPerSecond / n.requestsPerSecond) * 100) / 100,
      cpuRatio: Math.round((n.serverCpuUsPerRequest / b.serverCpuUsPerRequest) * 100) / 100,
      rounds: { broker: brokerRuns, bare: bareRuns }
    }
  }
  results.catalog = catalog
  const bursts = { broker: [] as number[], bare: [] as number[] }
  for (let i = 0; i < 5; i++) {
    bursts.broker.push(await burstSlowestMs(`${broker.url}/v2/catalog`))
    bursts.bare.push(await burstSlowestMs(bare.url))
  }
  results.connectionBurst = { coldSlowestMs: coldBurst, slowestMs: { broker: percentile(bursts.broker, 0.5), bare: percentile(bursts.bare, 0.5) }, rounds: bursts }
  // Start-up to ready: this broker's, and four more starts, one after another; the median is reported.
  const starts = [broker.readyMs]
  for (let i = 0; i < 4; i++) {
    const again = await startBroker(brokerEnv)
    starts.push(again.readyMs)
    again.child.kill('SIGTERM')
    await new Promise(resolve => again.child.once('exit', resolve))
  }
  results.startup = { readyMs: percentile(starts, 0.5), runs: starts }
  // Idle again, after the load and once the broker has probed Atlas (every 30 s while no other exchange
  // happens, so during the load above): what an idle deployed broker holds, the Atlas client loaded.
  await settle()
  results.memory = {
    idleRssMb: idle.broker, idleRssFastifyAloneMb: idle.fastify, idleRssBareMb: idle.bare,
    oneSecondAfterStartRssMb: afterStart, peakRssUnderLoadMb: peakRss,
    idleAfterLoadRssMb: rssMb(broker.child.pid), atlasExchangesByThen: catalogSim.stats.requests
  }
  broker.child.kill('SIGTERM')
  bare.child.kill('SIGTERM')
  await catalogSim.close()

  // 2: lifecycles against the simulator (no added latency, instant propagation).
  step('catalog done')
  const sim = new AtlasSimulator({ seedClusters: ['Cluster0'] })
  const simUrl = await sim.listen()
  // Under the Kubernetes deployment's memory limit where this machine allows it: Node sizes V8's heap from it.
  const lifecycleBroker = await startBroker({
    ATLAS_BASE_URL: simUrl, ATLAS_PROJECT_ID: sim.projectId, ATLAS_PUBLIC_KEY: sim.publicKey, ATLAS_PRIVATE_KEY: sim.privateKey,
    ATLAS_DEFAULT_CLUSTER: 'Cluster0', CREDENTIALS_SECRET: 'b'.repeat(32), USER_PROPAGATION_POLL_MS: '10'
  }, { memoryLimitMib: deploymentMemoryLimitMib(root) })
  const headers = { authorization: AUTH, 'x-broker-api-version': '2.17', 'content-type': 'application/json' }
  const latencies: Record<string, number[]> = { provision: [], bind: [], unbind: [], deprovision: [] }
  const ownTimes: Record<string, number[]> = { provision: [], bind: [], unbind: [], deprovision: [] }
  /** Seconds the broker has spent in Atlas exchanges so far, from its own /metrics (scraped between calls). */
  const atlasSeconds = async (): Promise<number> => atlasExchangeSeconds(await (await fetch(`${lifecycleBroker.url}/metrics`, { headers: { authorization: AUTH } })).text())
  /** One OSB call; with `own`, also the broker's own time: the latency less the time its Atlas exchanges took. */
  const call = async (name: string, method: string, url: string, body: unknown, own: boolean): Promise<void> => {
    const atlasBefore = own ? await atlasSeconds() : 0
    const started = performance.now()
    const r = await fetch(`${lifecycleBroker.url}${url}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    await r.text()
    const elapsed = performance.now() - started
    if (own) ownTimes[name]!.push(Math.max(0, elapsed - (await atlasSeconds() - atlasBefore) * 1000))
    else latencies[name]!.push(elapsed)
    if (r.status >= 300) throw new Error(`${name} answered ${r.status}`)
  }
  const lifecycle = async (id: string, own: boolean): Promise<void> => {
    const q = `service_id=${SERVICE}&plan_id=${PLAN}`
    await call('provision', 'PUT', `/v2/service_instances/${id}`, { service_id: SERVICE, plan_id: PLAN, organization_guid: 'o', space_guid: 's' }, own)
    await call('bind', 'PUT', `/v2/service_instances/${id}/service_bindings/b-${id}`, { service_id: SERVICE, plan_id: PLAN }, own)
    await call('unbind', 'DELETE', `/v2/service_instances/${id}/service_bindings/b-${id}?${q}`, undefined, own)
    await call('deprovision', 'DELETE', `/v2/service_instances/${id}?${q}`, undefined, own)
  }
  step('lifecycle broker ready')
  // Warm up (digest nonce, connections), then measure: first plain cycles (throughput, latency, round trips),
  // then cycles with /metrics scraped around each call (the broker's own time; scrapes stay outside the timing).
  await lifecycle('warm', false)
  for (const k of Object.keys(latencies)) latencies[k] = []
  const before = { ...sim.stats }
  const originalStats = sim.stats.requests
  const cycles = 200
  const started = performance.now()
  for (let i = 0; i < cycles; i++) await lifecycle(`i${i}`, false)
  const seconds = (performance.now() - started) / 1000
  const atlasCalls = sim.stats.requests - originalStats
  const challenges = sim.stats.challenges - before.challenges
  for (let i = 0; i < 100; i++) await lifecycle(`o${i}`, true)
  results.lifecycle = {
    cycles,
    cyclesPerSecond: Math.round((cycles / seconds) * 10) / 10,
    perCallMs: Object.fromEntries(Object.entries(latencies).map(([k, v]) => [k, { median: percentile(v, 0.5), p99: percentile(v, 0.99) }])),
    brokerOwnMsPerCall: Object.fromEntries(Object.entries(ownTimes).map(([k, v]) => [k, { median: percentile(v, 0.5), p99: percentile(v, 0.99) }])),
    atlasRoundTripsPerOsbCall: Math.round((atlasCalls / (cycles * 4)) * 100) / 100,
    digestChallengesWhileWarm: challenges
  }
  // 5: leak check. Four lifecycles at a time until LEAK_CYCLES have run; RSS at the half-way mark and at the end.
  step('leak check')
  const leakCycles = Number(process.env.BENCH_LEAK_CYCLES ?? '10000')
  let next = 0
  let rssHalf = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < leakCycles; i = next++) {
      await lifecycle(`leak${i}`, false)
      if (i === Math.floor(leakCycles / 2)) rssHalf = rssMb(lifecycleBroker.child.pid)
    }
  }
  const leakStarted = performance.now()
  await Promise.all([worker(), worker(), worker(), worker()])
  const rssAtEnd = rssMb(lifecycleBroker.child.pid)
  const leakSeconds = Math.round((performance.now() - leakStarted) / 100) / 10
  // And once the load has stopped and the broker has given back what it no longer needs (as for the idle figure).
  await settle()
  results.leak = { cycles: leakCycles, seconds: leakSeconds, rssAtHalfMb: rssHalf, rssAtEndMb: rssAtEnd, rssSettledMb: rssMb(lifecycleBroker.child.pid), memoryLimitMib: lifecycleBroker.memoryLimitMib ?? null }
  lifecycleBroker.child.kill('SIGTERM')
  await sim.close()

  // 4: binds while new users take PROPAGATION_MS to propagate, at the default USER_PROPAGATION_POLL_MS.
  step('propagation')
  results.propagation = await propagationBinds()
  step('scale')
  results.scale = await scaleBench()
  step('heap leak check')
  results.heapLeak = await leakCheck(Number(process.env.BENCH_LEAK_CYCLES ?? '10000'))
  step('sweep')
  results.sweep = await sweepBench()

  mkdirSync(path.join(root, 'bench/results'), { recursive: true })
  writeFileSync(path.join(root, 'bench/results/latest.json'), `${JSON.stringify(results, null, 2)}\n`)
  const c = results.catalog as Record<string, { broker: Load, bare: Load, ratio: number, cpuRatio: number }>
  const l = results.lifecycle as { cyclesPerSecond: number, perCallMs: Record<string, { median: number, p99: number }>, brokerOwnMsPerCall: Record<string, { median: number, p99: number }>, atlasRoundTripsPerOsbCall: number, digestChallengesWhileWarm: number }
  const method = results.method as { serverNode: string }
  console.log(`\nmachine: ${String((results.machine as { cpus: number }).cpus)} cores, ${(results.machine as { model: string }).model}; servers on Node ${method.serverNode}; the broker with the image's NODE_OPTIONS=${IMAGE_NODE_OPTIONS} and node flags ${IMAGE_NODE_FLAGS.length === 0 ? '(none)' : IMAGE_NODE_FLAGS.join(' ')}`)
  console.log(`method: ${GENERATOR}, ${ROUNDS} alternating ${SECONDS} s runs per server and connection count, medians; ${PINNED ? `servers on core 1, ${GENERATOR} on core 0` : 'processes not pinned to cores'}`)
  console.log('\n| measure | value |\n| --- | --- |')
  for (const k of ['c32', 'c128']) {
    const r = c[k]!
    console.log(`| catalog ${k.slice(1)} conn: broker req/s (p50/p99 ms) | ${r.broker.requestsPerSecond} (${r.broker.p50}/${r.broker.p99}) |`)
    console.log(`| catalog ${k.slice(1)} conn: bare node:http req/s (p50/p99 ms) | ${r.bare.requestsPerSecond} (${r.bare.p50}/${r.bare.p99}) |`)
    console.log(`| catalog ${k.slice(1)} conn: ratio (target ≥ 0.8) | ${r.ratio} |`)
    console.log(`| catalog ${k.slice(1)} conn: server CPU µs per request, broker / bare (bare's share of the broker's) | ${r.broker.serverCpuUsPerRequest} / ${r.bare.serverCpuUsPerRequest} (${r.cpuRatio}) |`)
  }
  const cb = results.connectionBurst as { coldSlowestMs: { broker: number, bare: number }, slowestMs: { broker: number, bare: number } }
  console.log(`| 128 connections opened at once: slowest catalog answer, broker / bare (ms; target ≤ 2x), just started | ${cb.coldSlowestMs.broker} / ${cb.coldSlowestMs.bare} |`)
  console.log(`| 128 connections opened at once: slowest catalog answer, broker / bare (ms), warm, median of 5 | ${cb.slowestMs.broker} / ${cb.slowestMs.bare} |`)
  console.log(`| lifecycles per second (provision, bind, unbind, deprovision) | ${l.cyclesPerSecond} |`)
  for (const [k, v] of Object.entries(l.perCallMs)) console.log(`| ${k}: OSB call latency with a zero-latency Atlas, median / p99 (ms) | ${v.median} / ${v.p99} |`)
  for (const [k, v] of Object.entries(l.brokerOwnMsPerCall)) console.log(`| ${k}: broker's own time per call (latency less its Atlas exchanges), median / p99 (ms) | ${v.median} / ${v.p99} |`)
  console.log(`| Atlas HTTP round trips per OSB call | ${l.atlasRoundTripsPerOsbCall} |`)
  console.log(`| digest challenges once warm | ${l.digestChallengesWhileWarm} |`)
  const pr = results.propagation as PropagationResult
  console.log(`| bind with ${pr.propagationMs} ms user propagation: Atlas HTTP calls per bind, adaptive (fixed 1 s polling, computed) | ${pr.atlasCallsPerBind} (${pr.fixedPollingCallsPerBind}) |`)
  console.log(`| bind with ${pr.propagationMs} ms user propagation: latency median / max (ms) (fixed 1 s polling: ${pr.fixedPollingLatencyMs}) | ${pr.bindMs.median} / ${pr.bindMs.max} |`)
  const lk = results.leak as { cycles: number, rssAtHalfMb: number, rssAtEndMb: number, rssSettledMb: number, memoryLimitMib: number | null }
  const limit = lk.memoryLimitMib === null ? 'no memory limit (this machine let the bench make no memory cgroup)' : `under the deployment's ${lk.memoryLimitMib} MiB memory limit`
  console.log(`| compiled broker RSS after ${lk.cycles / 2} / ${lk.cycles} lifecycles, and settled 22 s later, in-memory store holding their tombstones, ${limit} (MB) | ${lk.rssAtHalfMb} / ${lk.rssAtEndMb}, ${lk.rssSettledMb} |`)
  const hl = results.heapLeak as LeakResult
  console.log(`| heap after full GC, warm / ${hl.cycles / 2} / ${hl.cycles} lifecycles, tombstones outside the heap (MB; growth half→end) | ${hl.heapAfterWarmMb} / ${hl.heapAtHalfMb} / ${hl.heapAtEndMb} (${hl.growthHalfToEndMb}) |`)
  const sc = results.scale as ScaleResult
  console.log(`| broker's own ms per OSB call, empty store / ${sc.storedInstances} instances + ${sc.storedBindings} bindings, ratio (target ≤ 1.2) | ${sc.ownMsPerCall.empty} / ${sc.ownMsPerCall.full}, ${sc.ownMsPerCall.ratio} |`)
  const sw = results.sweep as SweepResult
  console.log(`| sweep over ${sw.users} Atlas users (${sw.orphans} orphans): seconds; peak heap growth paged / with a third of the users / listing all first (MB) | ${sw.seconds}; ${sw.peakHeapGrowthMb.paged} / ${sw.peakHeapGrowthMb.pagedWithAThird} / ${sw.peakHeapGrowthMb.listedFirst} |`)
  console.log(`| start-up to ready, median of 5 starts (ms; target ≤ 500) | ${(results.startup as { readyMs: number }).readyMs} |`)
  const m = results.memory as { idleRssMb: number, idleRssFastifyAloneMb: number, idleRssBareMb: number, oneSecondAfterStartRssMb: { broker: number, fastify: number, bare: number }, peakRssUnderLoadMb: number, idleAfterLoadRssMb: number, atlasExchangesByThen: number }
  const s1 = m.oneSecondAfterStartRssMb
  console.log(`| RSS idle, settled (12 s after start): broker / Fastify alone / bare node:http (MB; target ≤ 70) | ${m.idleRssMb} / ${m.idleRssFastifyAloneMb} / ${m.idleRssBareMb} |`)
  console.log(`| RSS one second after start: broker / Fastify alone / bare node:http (MB) | ${s1.broker} / ${s1.fastify} / ${s1.bare} |`)
  console.log(`| RSS peak under catalog load (MB; target ≤ 100) | ${m.peakRssUnderLoadMb} |`)
  console.log(`| RSS idle again after the load, settled (22 s), ${m.atlasExchangesByThen} Atlas exchange(s) made by then (the reachability probe) (MB; target ≤ 70) | ${m.idleAfterLoadRssMb} |`)
}

interface PropagationResult { propagationMs: number, binds: number, atlasCallsPerBind: number, statusChecksPerBind: number, fixedPollingCallsPerBind: number, bindMs: { median: number, max: number, each: number[] }, fixedPollingLatencyMs: number }

/**
 * Sequential binds (one at a time: the cluster's change status is shared, so concurrent binds would wait on
 * each other) with realistic propagation. The first bind has no learnt propagation time yet; later ones use it.
 */
async function propagationBinds (): Promise<PropagationResult> {
  const sim = new AtlasSimulator({ seedClusters: ['Cluster0'], delays: { userPropagationMs: PROPAGATION_MS } })
  const simUrl = await sim.listen()
  const broker = await startBroker({
    ATLAS_BASE_URL: simUrl, ATLAS_PROJECT_ID: sim.projectId, ATLAS_PUBLIC_KEY: sim.publicKey, ATLAS_PRIVATE_KEY: sim.privateKey,
    ATLAS_DEFAULT_CLUSTER: 'Cluster0', CREDENTIALS_SECRET: 'b'.repeat(32)
  })
  try {
    const headers = { authorization: AUTH, 'x-broker-api-version': '2.17', 'content-type': 'application/json' }
    const put = async (url: string, body: unknown): Promise<void> => {
      const r = await fetch(`${broker.url}${url}`, { method: 'PUT', headers, body: JSON.stringify(body) })
      await r.text()
      if (r.status >= 300) throw new Error(`PUT ${url} answered ${r.status}`)
    }
    const binds = Number(process.env.BENCH_PROPAGATION_BINDS ?? '5')
    const each: number[] = []
    let calls = 0
    let checks = 0
    for (let i = 0; i < binds; i++) {
      await put(`/v2/service_instances/p${i}`, { service_id: SERVICE, plan_id: PLAN, organization_guid: 'o', space_guid: 's' })
      const before = sim.stats.requests
      const checksBefore = sim.stats.statusChecks
      const started = performance.now()
      await put(`/v2/service_instances/p${i}/service_bindings/pb${i}`, { service_id: SERVICE, plan_id: PLAN })
      each.push(Math.round(performance.now() - started))
      calls += sim.stats.requests - before
      checks += sim.stats.statusChecks - checksBefore
    }
    // Fixed 1 s polling makes the same other calls (user creation, lookups) and one check at once, then one a
    // second until the change is applied.
    const fixedChecks = 1 + Math.ceil(PROPAGATION_MS / 1000)
    const perBind = calls / binds
    return {
      propagationMs: PROPAGATION_MS,
      binds,
      atlasCallsPerBind: Math.round(perBind * 10) / 10,
      statusChecksPerBind: Math.round((checks / binds) * 10) / 10,
      fixedPollingCallsPerBind: Math.round((perBind - checks / binds + fixedChecks) * 10) / 10,
      bindMs: { median: percentile(each, 0.5), max: Math.max(...each), each },
      fixedPollingLatencyMs: Math.ceil(PROPAGATION_MS / 1000) * 1000
    }
  } finally {
    broker.child.kill('SIGTERM')
    await sim.close()
  }
}

await main()

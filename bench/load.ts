/**
 * What the bench measures with: the servers it compares (the compiled broker, a bare node:http server and a
 * Fastify server answering the same bytes), the load generators (wrk when installed, which keeps up with a
 * bare server where autocannon saturates first, else autocannon), a burst of fresh connections, and the
 * process readings (/proc: resident memory, CPU time).
 * With two or more cores and `taskset`, servers run on core 1 and load generators on core 0.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { IMAGE_ENTRY, IMAGE_NODE_FLAGS, IMAGE_NODE_OPTIONS } from '../scripts/image-command.js'
import { memoryCgroup } from './memory-limit.js'

const run = promisify(execFile)
export const root = new URL('..', import.meta.url).pathname
export const SECONDS = Number(process.env.BENCH_SECONDS ?? '5')
/** The Node that runs the servers (BENCH_NODE, e.g. the image's), by default the bench's own. */
export const SERVER_NODE = process.env.BENCH_NODE ?? process.execPath
/** Server and load generator on separate cores when the machine allows it. */
export const PINNED = cpus().length >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0
/** wrk when installed (BENCH_LOAD=autocannon forces autocannon). */
export const GENERATOR: 'wrk' | 'autocannon' = process.env.BENCH_LOAD !== 'autocannon' && spawnSync('wrk', ['--version']).error === undefined ? 'wrk' : 'autocannon'

export const USER = 'bench'
export const PASS = 'bench-password-123'
export const AUTH = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`

export function pinned (core: number, command: string, args: string[]): [string, string[]] {
  return PINNED ? ['taskset', ['-c', String(core), command, ...args]] : [command, args]
}

export function rssMb (pid: number | undefined): number {
  if (pid === undefined) return 0
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? '0')
  return Math.round(kb / 102.4) / 10
}

/** CPU seconds (user + system) the process has used so far, from /proc (clock ticks at 100 Hz). */
export function cpuSeconds (pid: number | undefined): number {
  if (pid === undefined) return 0
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

export function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return Math.round((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0) * 100) / 100
}

export interface Started {
  child: ChildProcess
  url: string
  readyMs: number
  /** The memory limit the server runs under (MiB), when one was asked for and this machine could apply it. */
  memoryLimitMib?: number
}

/** A free loopback port, so the bench knows the broker's address without reading its log. */
async function freePort (): Promise<number> {
  const { createServer } = await import('node:net')
  return await new Promise(resolve => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/**
 * The compiled broker (dist/) as the image runs it (its NODE_OPTIONS and node flags), on its own core, ready
 * (`/readyz` answers 200); with `memoryLimitMib`, under that memory limit where the machine allows it.
 */
export async function startBroker (env: Record<string, string>, options: { memoryLimitMib?: number } = {}): Promise<Started> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const started = Date.now()
  const cgroup = options.memoryLimitMib === undefined ? undefined : memoryCgroup(options.memoryLimitMib)
  const [node, nodeArgs] = pinned(1, SERVER_NODE, [...IMAGE_NODE_FLAGS, IMAGE_ENTRY])
  // In a cgroup: a shell moves itself into it, then becomes the broker.
  const [command, args] = cgroup === undefined ? [node, nodeArgs] : ['sh', ['-c', 'echo $$ > "$0" && exec "$@"', cgroup.procs, node, ...nodeArgs]]
  const child = spawn(command, args, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_OPTIONS: IMAGE_NODE_OPTIONS, HOST: '127.0.0.1', PORT: String(port), BROKER_USERNAME: USER, BROKER_PASSWORD: PASS, ...env },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  if (cgroup !== undefined) child.once('exit', cgroup.remove)
  for (;;) {
    if (child.exitCode !== null) throw new Error(`broker exited (${child.exitCode})`)
    const r = await fetch(`${url}/readyz`).catch(() => undefined)
    if (r?.status === 200) break
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  return { child, url, readyMs: Date.now() - started, ...(cgroup === undefined ? {} : { memoryLimitMib: options.memoryLimitMib }) }
}

/** A server in its own process that prints its URL once listening: the bare baseline or Fastify's. */
async function startPrinting (code: string): Promise<Started> {
  const started = Date.now()
  const [command, args] = pinned(1, SERVER_NODE, ['--input-type=module', '-e', code])
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  const url = await new Promise<string>(resolve => child.stdout?.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())))
  return { child, url, readyMs: Date.now() - started }
}

/** node:http answering `body` to every request: what no framework can beat. */
export async function startBare (body: string): Promise<Started> {
  return await startPrinting(`import http from 'node:http'; const body = Buffer.from(${JSON.stringify(body)});
    http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length }); res.end(body) })
      .listen(0, '127.0.0.1', function () { console.log('http://127.0.0.1:' + this.address().port) })`)
}

/** Fastify with one route answering `body`, no logger: the memory a Fastify server needs before any broker. */
export async function startFastify (body: string): Promise<Started> {
  return await startPrinting(`import Fastify from 'fastify'; const body = ${JSON.stringify(body)};
    const app = Fastify({ logger: false }); app.get('*', async (req, reply) => reply.type('application/json; charset=utf-8').send(body));
    console.log(await app.listen({ port: 0, host: '127.0.0.1' }))`)
}

export interface Load { requestsPerSecond: number, p50: number, p99: number, errors: number, non2xx: number, serverCpuUsPerRequest: number }

const HEADERS = [`authorization: ${AUTH}`, 'x-broker-api-version: 2.17']

/** wrk's latency figure (`381.00us`, `1.23ms`, `2.01s`) in milliseconds. */
export function wrkMs (text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim())
  if (match === null) return Number.NaN
  const value = Number(match[1])
  return match[2] === 'us' ? value / 1000 : match[2] === 'ms' ? value : match[2] === 's' ? value * 1000 : value * 60_000
}

/** wrk's text report (`--latency`) as a load result, less the server CPU figure. */
export function parseWrk (stdout: string): Omit<Load, 'serverCpuUsPerRequest'> & { total: number } {
  const number = (re: RegExp): number => Number(re.exec(stdout)?.[1] ?? 'NaN')
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout)
  return {
    requestsPerSecond: Math.round(number(/Requests\/sec:\s+([\d.]+)/)),
    total: number(/(\d+) requests in/),
    p50: wrkMs(/^\s+50%\s+(\S+)/m.exec(stdout)?.[1] ?? ''),
    p99: wrkMs(/^\s+99%\s+(\S+)/m.exec(stdout)?.[1] ?? ''),
    errors: errors === null ? 0 : errors.slice(1).reduce((sum, n) => sum + Number(n), 0),
    non2xx: /Non-2xx or 3xx responses: (\d+)/.exec(stdout) === null ? 0 : number(/Non-2xx or 3xx responses: (\d+)/)
  }
}

/**
 * One run of the load generator against `url` with `connections` for SECONDS; `serverPid`'s CPU time over
 * the run, per request, goes beside req/s. `sampleRss` is called every 250 ms during the run.
 */
export async function load (url: string, connections: number, serverPid: number | undefined, sampleRss?: () => void): Promise<Load> {
  const timer = sampleRss === undefined ? undefined : setInterval(sampleRss, 250)
  const cpuBefore = cpuSeconds(serverPid)
  try {
    let result: Omit<Load, 'serverCpuUsPerRequest'> & { total: number }
    if (GENERATOR === 'wrk') {
      const [command, args] = pinned(0, 'wrk', ['-t1', `-c${connections}`, `-d${SECONDS}s`, '--latency', ...HEADERS.flatMap(h => ['-H', h]), url])
      result = parseWrk((await run(command, args, { maxBuffer: 16 * 1024 * 1024 })).stdout)
    } else {
      const [command, args] = pinned(0, path.join(root, 'node_modules/.bin/autocannon'), [
        '-j', '-c', String(connections), '-d', String(SECONDS), ...HEADERS.flatMap(h => ['-H', h.replace(': ', '=')]), url
      ])
      const r = JSON.parse((await run(command, args, { maxBuffer: 64 * 1024 * 1024 })).stdout) as { requests: { average: number, total: number }, latency: { p50: number, p99: number }, errors: number, non2xx: number }
      result = { requestsPerSecond: Math.round(r.requests.average), total: r.requests.total, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx }
    }
    const cpuUs = (cpuSeconds(serverPid) - cpuBefore) * 1e6
    const { total, ...rest } = result
    return { ...rest, serverCpuUsPerRequest: Math.round((cpuUs / Math.max(1, total)) * 10) / 10 }
  } finally {
    if (timer !== undefined) clearInterval(timer)
  }
}

/**
 * 128 fresh connections opened at once, one catalog request each: the slowest answer (ms).
 */
export async function burstSlowestMs (url: string): Promise<number> {
  const { request } = await import('node:http')
  const one = async (): Promise<number> => await new Promise((resolve, reject) => {
    const started = performance.now()
    const req = request(url, { agent: false, headers: { authorization: AUTH, 'x-broker-api-version': '2.17' } }, res => {
      res.resume()
      res.on('end', () => resolve(performance.now() - started))
    })
    req.on('error', reject)
    req.end()
  })
  const times = await Promise.all(Array.from({ length: 128 }, one))
  return Math.round(Math.max(...times) * 10) / 10
}

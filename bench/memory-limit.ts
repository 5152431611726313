/**
 * The pod's memory limit (`limits.memory` in deploy/kubernetes/deployment.yaml), applied to a server the bench
 * starts: through a child memory cgroup of the bench's own, where this machine lets the bench make one (cgroup
 * v1's memory controller, or v2 with memory delegated). Node sizes V8's heap from that limit as it does in the
 * pod (384 MiB gives a 259 MB heap limit, and V8 then grows the heap by smaller steps than on a 24 GB machine).
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'

/** The Kubernetes deployment's memory limit in MiB. */
export function deploymentMemoryLimitMib (root: string): number | undefined {
  const manifest = readFileSync(path.join(root, 'deploy/kubernetes/deployment.yaml'), 'utf8')
  const mib = /^\s+limits:\s*\n\s+memory:\s*(\d+)Mi\s*$/m.exec(manifest)?.[1]
  return mib === undefined ? undefined : Number(mib)
}

export interface MemoryCgroup {
  /** Write a pid here to move that process into the cgroup. */
  procs: string
  /** Removes the cgroup (once its processes have exited). */
  remove: () => void
}

let made = 0

/** A new memory cgroup limited to `limitMib`, or undefined where the machine does not allow one. */
export function memoryCgroup (limitMib: number): MemoryCgroup | undefined {
  try {
    const lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n')
    const v1 = lines.map(line => /^\d+:memory:(.*)$/.exec(line)?.[1]).find(p => p !== undefined)
    const v2 = lines.map(line => /^0::(.*)$/.exec(line)?.[1]).find(p => p !== undefined)
    if (v1 === undefined && v2 === undefined) return undefined
    const [parent, limitFile] = v1 !== undefined ? [`/sys/fs/cgroup/memory${v1}`, 'memory.limit_in_bytes'] : [`/sys/fs/cgroup${v2 ?? ''}`, 'memory.max']
    const dir = path.join(parent, `atlas-broker-bench-${process.pid}-${++made}`)
    mkdirSync(dir)
    try {
      writeFileSync(path.join(dir, limitFile), String(limitMib * 2 ** 20))
    } catch (err) {
      rmdirSync(dir)
      throw err
    }
    return { procs: path.join(dir, 'cgroup.procs'), remove: () => { try { rmdirSync(dir) } catch { /* still busy or gone */ } } }
  } catch {
    return undefined
  }
}

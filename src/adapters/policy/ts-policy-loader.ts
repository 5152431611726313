/**
 * Loads `policies/*.ts` (and `.js`/`.mts`/`.mjs`) at start-up (TypeScript with tsx), in file-name order, each file's
 * hooks overriding the built-in policy and earlier files. tsx does not type-check (tsc does, in CI), so the
 * default export's shape is checked here, and any problem stops start-up with the file's name.
 */
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import {
  type LoadedPolicy, type Policy, type PolicyHook, type PolicyPlugin, POLICY_HOOKS, PolicyLoadError
} from '../../ports/policy-port.js'

const POLICY_FILE = /^[^.].*\.(ts|mts|js|mjs)$/

export async function listPolicyFiles (dir: string): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new PolicyLoadError(dir, 'cannot read the policies folder', { cause: err })
  }
  return names.filter(name => POLICY_FILE.test(name) && !name.endsWith('.d.ts')).sort().map(name => path.join(dir, name))
}

/** Checks a module's default export; returns the plugin or throws PolicyLoadError naming the file. */
export function checkPlugin (file: string, exported: unknown): PolicyPlugin {
  if (typeof exported !== 'object' || exported === null || Array.isArray(exported)) {
    throw new PolicyLoadError(file, 'must `export default` an object of policy hooks')
  }
  for (const [key, value] of Object.entries(exported)) {
    if (!(POLICY_HOOKS as readonly string[]).includes(key)) {
      throw new PolicyLoadError(file, `unknown hook '${key}' (known hooks: ${POLICY_HOOKS.join(', ')})`)
    }
    const wanted = key === 'predictableCredentials' ? 'boolean' : 'function'
    if (typeof value !== wanted) throw new PolicyLoadError(file, `hook '${key}' must be a ${wanted}`)
  }
  return exported as PolicyPlugin
}

/**
 * The module's default export. Outside an ESM package (`"type": "module"`), tsx loads a file as CommonJS
 * and the ESM namespace's `default` is the transpiled `module.exports` (marked `__esModule`).
 */
function defaultExport (mod: { default?: unknown }): unknown {
  const value = mod.default
  if (typeof value === 'object' && value !== null && (value as { __esModule?: unknown }).__esModule === true) {
    return (value as { default?: unknown }).default
  }
  return value
}

/** Merges plugins over a base policy, recording where each hook comes from. */
export function composePolicy (base: Policy, plugins: Array<{ file: string, plugin: PolicyPlugin }>, baseSources?: Record<PolicyHook, string>): LoadedPolicy {
  const policy: Policy = { ...base }
  const sources = { ...(baseSources ?? Object.fromEntries(POLICY_HOOKS.map(hook => [hook, 'built-in'])) as Record<PolicyHook, string>) }
  for (const { file, plugin } of plugins) {
    for (const hook of POLICY_HOOKS) {
      if (plugin[hook] === undefined) continue
      Object.assign(policy, { [hook]: plugin[hook] })
      sources[hook] = file
    }
    // A new password hook is unpredictable unless the same file says otherwise (so it gets stored, sealed).
    if (plugin.password !== undefined && plugin.predictableCredentials === undefined) {
      policy.predictableCredentials = false
      sources.predictableCredentials = file
    }
  }
  return { policy, sources }
}

/**
 * A policy module: TypeScript through tsx, loaded only when a `.ts`/`.mts` policy exists (it costs memory and
 * start-up time); JavaScript with Node's own import.
 */
async function importPolicy (file: string): Promise<{ default?: unknown }> {
  const url = pathToFileURL(path.resolve(file)).href
  if (/\.(js|mjs)$/.test(file)) return await import(url) as { default?: unknown }
  const { tsImport } = await import('tsx/esm/api')
  return await tsImport(url, import.meta.url) as { default?: unknown }
}

export async function loadPolicies (dir: string, base: Policy): Promise<LoadedPolicy> {
  const plugins: Array<{ file: string, plugin: PolicyPlugin }> = []
  for (const file of await listPolicyFiles(dir)) {
    let mod: { default?: unknown }
    try {
      mod = await importPolicy(file)
    } catch (err) {
      throw new PolicyLoadError(file, `failed to load: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    plugins.push({ file, plugin: checkPlugin(file, defaultExport(mod)) })
  }
  return composePolicy(base, plugins)
}

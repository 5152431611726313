/**
 * The commands of `atlas-broker serve | check | catalog | sweep [--delete] | import-seed` (cli.ts is the
 * program). They read the environment they are given, the same variables as the broker.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { loadPolicies } from '../adapters/policy/ts-policy-loader.js'
import type { MongoStorage } from '../adapters/storage/mongo-storage.js'
import { atlasNeeds, grants } from '../domain/atlas-access.js'
import { type BrokerCatalog, planTarget, sameTarget, servedCatalog } from '../domain/catalog.js'
import { defaultPolicy } from '../domain/default-policy.js'
import { importSeed } from '../domain/seed-import.js'
import { deleteOrphanProject, deleteOrphans, findOrphanProjects, sweepAtlas } from '../domain/sweep.js'
import { type AtlasPort, type AtlasTarget, AtlasUnavailableError, ClusterNotFoundError } from '../ports/atlas-port.js'
import { silentLogger } from '../ports/logger-port.js'
import type { BindingRecord, StoragePort } from '../ports/storage-port.js'
import { catalogTargets, checkPoliciesDir, configuredAtlas, loadCatalog, readTls } from './compose.js'
import { SEED_PLAN_ID, SEED_SERVICE_ID } from './default-catalog.js'
import { type Config, ConfigError, loadConfig, localModeUnlessConfigured } from './config.js'
import { expectedFailure } from './failures.js'
import { serve } from './server.js'

const USAGE = `usage: atlas-broker <command>
  serve            start the broker (as npm start)
  check            validate configuration, catalog and policies; try the Atlas credentials and MongoDB
  catalog [--file] print the catalog platforms see; --file: as a CATALOG_FILE (with the atlas blocks)
  sweep [--delete] list Atlas users and clusters this broker created but has no record of; --delete removes them
  import-seed [--file EXPORT.json] [--apply]
                   import python-atlasbroker's instances and bindings into this broker's state (dry run
                   unless --apply); reads the seed's collection (MONGODB_URI, MONGODB_DATABASE,
                   MONGODB_COLLECTION: the seed's mongo settings) or a mongoexport of it`

type Out = (line: string) => void

/** The MongoDB store, loaded (with its driver) only by the commands that use it. */
async function mongoStorage (): Promise<typeof MongoStorage> {
  return (await import('../adapters/storage/mongo-storage.js')).MongoStorage
}


async function check (env: Record<string, string | undefined>, out: Out): Promise<number> {
  let failures = 0
  const report = (ok: boolean, what: string): void => { out(`${ok ? 'ok  ' : 'FAIL'} ${what}`); if (!ok) failures++ }
  // A configuration error is one FAIL line per problem.
  const fail = (e: unknown): void => {
    if (e instanceof ConfigError) for (const problem of e.problems) report(false, problem)
    else report(false, e instanceof Error ? e.message : String(e))
  }
  let config: Config
  try {
    config = loadConfig(env)
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e
    fail(e)
    return 1
  }
  report(true, `configuration (${config.localMode ? 'local mode (LOCAL_MODE=true): the built-in simulator would be used' : `Atlas project ${config.atlas.projectId ?? ''}`})`)
  let catalog: BrokerCatalog | undefined
  try {
    catalog = loadCatalog(config)
    const plans = catalog.services.reduce((n, s) => n + s.plans.length, 0)
    report(true, `catalog: ${plans} ${plans === 1 ? 'plan' : 'plans'}`)
  } catch (e) {
    fail(e)
  }
  if (config.tls !== undefined) {
    try {
      readTls(config.tls)
      report(true, `TLS certificate and key (${config.tls.certFile}, ${config.tls.keyFile}) readable and matching`)
    } catch (e) {
      fail(e)
    }
  }
  try {
    checkPoliciesDir(config)
    const { sources } = await loadPolicies(config.policiesDir, defaultPolicy)
    report(true, `policies: ${Object.entries(sources).map(([hook, source]) => `${hook}=${source}`).join(', ')}`)
  } catch (e) {
    fail(e)
  }
  const port = await portProblem(config.host, config.port)
  report(port === undefined, port ?? `PORT ${config.port} on ${config.host} is free to listen on`)
  if (!config.localMode) await checkAtlas(config, catalog, report, out)
  if (config.mongo !== undefined) {
    try {
      const storage = await (await mongoStorage()).connect(config.mongo)
      await storage.close()
      report(true, `MongoDB reachable (database ${config.mongo.database})`)
    } catch (e) {
      report(false, e instanceof Error ? e.message : String(e))
    }
  } else {
    out('note in-memory storage (no MONGODB_URI): state is lost on restart')
  }
  return failures === 0 ? 0 : 1
}

/** Why `serve` could not listen on HOST:PORT (in use, not permitted, not an address here), or undefined. */
async function portProblem (host: string, port: number): Promise<string | undefined> {
  if (port === 0) return undefined
  return await new Promise(resolve => {
    const server = createServer()
    server.once('error', err => { resolve(expectedFailure(err, { port, host })?.message ?? `PORT: cannot listen on ${host}:${port} (${err.message})`) })
    server.listen(port, host, () => { server.close(() => resolve(undefined)) })
  })
}

/**
 * Atlas, with read-only calls: reachable and the credentials accepted (or the sentence saying what to fix:
 * the key's access list, the credentials), the default cluster, and one line per permission the catalog
 * needs, read from the roles Atlas lists for the key.
 */
async function checkAtlas (config: Config, catalog: BrokerCatalog | undefined, report: (ok: boolean, what: string) => void, out: Out): Promise<void> {
  const ofTarget = (target: AtlasTarget | undefined): BrokerCatalog => ({
    services: (catalog?.services ?? []).map(s => ({ ...s, plans: s.plans.filter(p => sameTarget(planTarget(p.atlas), target)) }))
  })
  await checkAtlasTarget(config, ofTarget(undefined), {}, report, out)
  // Project-per-instance plans: the organisation key may create projects there.
  for (const service of catalog?.services ?? []) {
    for (const plan of service.plans) {
      const own = plan.atlas.kind === 'dedicated-cluster' ? plan.atlas.projectPerInstance : undefined
      if (own !== undefined) await checkOrganisation(config, plan.name, own, report)
    }
  }
  // Every other project (and named credentials) a plan names, with the permissions its plans need.
  for (const target of catalog === undefined ? [] : catalogTargets(catalog)) {
    await checkAtlasTarget(config, ofTarget(target), target, report, out)
  }
}

/** The organisation key of a project-per-instance plan: accepted, and allowed to create projects in the organisation. */
async function checkOrganisation (
  config: Config, planName: string, own: { organizationId: string, credentials?: string }, report: (ok: boolean, what: string) => void
): Promise<void> {
  const name = own.credentials === undefined ? 'the configured credentials' : `credentials ${own.credentials}`
  let org: ReturnType<typeof configuredAtlas> | undefined
  try {
    org = configuredAtlas(config, {}, own.credentials === undefined ? {} : { credentials: own.credentials })
    const roles = await org.credentialRoles({ deadline: Date.now() + 15_000 })
    const creator = roles === undefined || roles.some(r => r.orgId === own.organizationId && (r.roleName === 'ORG_OWNER' || r.roleName === 'ORG_GROUP_CREATOR'))
    report(creator, creator
      ? `plan ${planName}: ${name} may create projects in organisation ${own.organizationId}`
      : `plan ${planName}: ${name} cannot create projects in organisation ${own.organizationId}: give it Organization Project Creator (or Organization Owner) there`)
  } catch (e) {
    report(false, `plan ${planName}: ${name}: ${e instanceof Error ? e.message : String(e)}`)
  } finally {
    await org?.close()
  }
}

async function checkAtlasTarget (
  config: Config, catalog: BrokerCatalog | undefined, target: AtlasTarget, report: (ok: boolean, what: string) => void, out: Out
): Promise<void> {
  let atlas: ReturnType<typeof configuredAtlas>
  try {
    atlas = configuredAtlas(config, {}, target)
  } catch (e) {
    report(false, e instanceof Error ? e.message : String(e))
    return
  }
  const deadline = (): { deadline: number } => ({ deadline: Date.now() + 15_000 })
  const named = target.credentials === undefined ? '' : ` ${target.credentials}`
  try {
    const project = await atlas.getProject(deadline())
    report(true, `Atlas reachable; credentials${named} accepted for project ${project.name} (${project.id})`)
    if (target.projectId === undefined && target.credentials === undefined && config.atlas.defaultCluster !== undefined) {
      const cluster = await atlas.getCluster(config.atlas.defaultCluster, deadline()).catch((e: unknown) => e instanceof Error ? e : new Error(String(e)))
      if (cluster instanceof ClusterNotFoundError) report(false, `ATLAS_DEFAULT_CLUSTER: cluster ${config.atlas.defaultCluster} does not exist in the project`)
      else if (cluster instanceof Error) report(false, `ATLAS_DEFAULT_CLUSTER: ${cluster.message}`)
      else report(true, `default cluster ${config.atlas.defaultCluster} exists (${cluster.stateName})`)
    }
    const roles = await atlas.credentialRoles(deadline())
    const needs = atlasNeeds(catalog ?? { services: [] })
    if (roles === undefined) {
      await atlas.listDatabaseUsers(deadline())
      await atlas.listClusters(deadline())
      out(`note Atlas lists no roles for service accounts: reads work; make sure it has ${needs.map(n => n.role).join(', ')}`)
    } else {
      for (const need of needs) {
        const ok = grants(roles, project.id, need)
        report(ok, `permission to ${need.what}: ${ok ? 'granted' : `missing: give the credentials ${need.role}${need.role === 'Project Owner' ? '' : ' (or Project Owner)'} on project ${project.id}`}`)
      }
    }
  } catch (e) {
    report(false, e instanceof AtlasUnavailableError
      ? `Atlas cannot be reached at ${config.atlas.baseUrl} (ATLAS_BASE_URL): ${e.message}`
      : `Atlas: ${e instanceof Error ? e.message : String(e)}`)
  } finally {
    await atlas.close()
  }
}

async function sweep (env: Record<string, string | undefined>, remove: boolean, out: Out, err: Out): Promise<number> {
  const config = loadConfig(localModeUnlessConfigured(env))
  if (config.localMode || config.mongo === undefined) {
    err('sweep needs Atlas credentials and the broker\'s MongoDB state (MONGODB_URI): without its records every resource would look orphaned')
    return 2
  }
  const catalog = loadCatalog(config)
  const storage = await (await mongoStorage()).connect(config.mongo)
  let failures = 0
  try {
    // The configured project, then every other project (and credentials) a plan names.
    const targets: Array<AtlasTarget | undefined> = [undefined, ...catalogTargets(catalog)]
    for (const target of targets) {
      if (targets.length > 1) out(`project ${target?.projectId ?? config.atlas.projectId ?? ''}${target?.credentials === undefined ? '' : ` (credentials ${target.credentials})`}`)
      const atlas = configuredAtlas(config, {}, target ?? {})
      try {
        failures += await sweepProject(atlas, storage, remove, binding => sameTarget(binding.project, target), out, err)
      } finally {
        await atlas.close()
      }
    }
    // Projects made for instances (project-per-instance plans) whose instance is gone, per organisation key.
    for (const credentials of ownProjectCredentials(catalog)) {
      const org = configuredAtlas(config, {}, credentials === undefined ? {} : { credentials })
      try {
        const orphans = await findOrphanProjects(org, storage)
        for (const o of orphans) out(`project\t${o.name}\towner ${o.owner}\t${o.reason}`)
        out(`${orphans.length} orphan project(s)${remove ? '' : ' (run with --delete to remove them)'}`)
        for (const orphan of remove ? orphans : []) {
          const inside = configuredAtlas(config, {}, { projectId: orphan.projectId, ...(credentials === undefined ? {} : { credentials }) })
          try {
            const result = await deleteOrphanProject(org, inside, orphan)
            out(result === 'deleted' ? `deleted project ${orphan.name}` : `project ${orphan.name}: its clusters are being deleted; run sweep --delete again to delete the project`)
          } catch (e) {
            err(`could not delete project ${orphan.name}: ${e instanceof Error ? e.message : String(e)}`)
            failures++
          } finally {
            await inside.close()
          }
        }
      } finally {
        await org.close()
      }
    }
  } finally {
    await storage.close()
  }
  return failures === 0 ? 0 : 1
}

/** The organisation credentials of every project-per-instance plan, each once (undefined: the configured ones). */
function ownProjectCredentials (catalog: BrokerCatalog): Array<string | undefined> {
  const names = new Set<string | undefined>()
  for (const service of catalog.services) {
    for (const plan of service.plans) if (plan.atlas.kind === 'dedicated-cluster' && plan.atlas.projectPerInstance !== undefined) names.add(plan.atlas.projectPerInstance.credentials)
  }
  return [...names]
}

/** One project's sweep: orphans (deleted with --delete), bindings missing their user, expired ones; returns how many deletions failed. */
async function sweepProject (
  atlas: AtlasPort, storage: StoragePort, remove: boolean, inProject: (binding: BindingRecord) => boolean, out: Out, err: Out
): Promise<number> {
  // A progress line at most every 2,000 resources, and one when each kind is done.
  let reported = 0
  const { orphans, missingUsers, expired } = await sweepAtlas(atlas, storage, (checked, what, finished) => {
    if (finished) { err(`checked ${checked} ${what}`); reported = 0 } else if (checked - reported >= 2000) { err(`checked ${checked} ${what} so far`); reported = checked }
  }, Date.now, inProject)
  for (const o of orphans) out(`${o.kind}\t${o.name}\towner ${o.owner}\t${o.reason}`)
  for (const m of missingUsers) out(`missing-user\t${m.username}\tbinding ${m.bindingId} of instance ${m.instanceId}\tthe binding is live but Atlas has no such user: its credentials do not work; unbind and bind again`)
  if (expired > 0) out(`${expired} expired binding(s): Atlas deleted their users at expiry, as planned; unbinding clears them`)
  out(`${orphans.length} orphan(s)${remove ? '' : ' (run with --delete to remove them)'}, ${missingUsers.length} binding(s) missing their user`)
  if (!remove || orphans.length === 0) return 0
  const failed = await deleteOrphans(atlas, orphans)
  for (const f of failed) err(`could not delete ${f.orphan.kind} ${f.orphan.name}: ${f.error}`)
  out(`deleted ${orphans.length - failed.length} of ${orphans.length}`)
  return failed.length
}

export async function runCli (
  argv: string[], env: Record<string, string | undefined>, out: Out = l => process.stdout.write(`${l}\n`), err: Out = l => process.stderr.write(`${l}\n`),
  overrides: CliOverrides = {}
): Promise<number> {
  const [command, ...rest] = argv
  try {
    return await runCommand(command, rest, env, out, err, overrides)
  } catch (e) {
    // A failure the operator can fix is one sentence; anything else keeps its stack.
    const expected = expectedFailure(e)
    if (expected === undefined) throw e
    err(`atlas-broker ${command ?? ''}: ${expected.message}`)
    return expected.code
  }
}

/**
 * `import-seed`: python-atlasbroker's state into this broker's (its MongoDB: MONGODB_URI). The seed's documents
 * come from its collection (by default the one MONGODB_COLLECTION names, as the seed's secrets file sets it) or
 * from a mongoexport file. One line per document, then a summary; exit 1 when anything failed.
 */
async function importSeedCommand (env: Record<string, string | undefined>, args: string[], out: Out, err: Out, overrides: CliOverrides): Promise<number> {
  const config = loadConfig(env)
  const apply = args.includes('--apply')
  const fileAt = args.indexOf('--file')
  const file = fileAt >= 0 ? args[fileAt + 1] : undefined
  if (fileAt >= 0 && (file === undefined || file.startsWith('--'))) throw new ConfigError(['--file: give the path of a mongoexport of the seed\'s collection'])
  if (config.mongo === undefined && overrides.storage === undefined) {
    throw new ConfigError(['MONGODB_URI: import-seed writes into the broker\'s MongoDB state; set MONGODB_URI (and MONGODB_DATABASE, MONGODB_COLLECTION)'])
  }
  let documents: unknown[]
  if (file !== undefined) {
    let text: string
    try { text = readFileSync(file, 'utf8') } catch (e) { throw new ConfigError([`--file: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)})`]) }
    const { parseMongoExport } = await import('../adapters/storage/seed-state.js')
    try { documents = parseMongoExport(text, file) } catch (e) { throw new ConfigError([`--file: ${e instanceof Error ? e.message : String(e)}`]) }
  } else {
    const mongo = config.mongo!
    const { readSeedCollection } = await import('../adapters/storage/seed-state.js')
    documents = await readSeedCollection({ uri: mongo.uri, database: mongo.database, collection: mongo.collection, timeoutMs: mongo.timeoutMs })
  }
  const { policy } = await loadPolicies(config.policiesDir, defaultPolicy)
  const atlas = configuredAtlas(config)
  const storage = overrides.storage ?? await (await mongoStorage()).connect(config.mongo!).catch(async (e: unknown) => { await atlas.close(); throw e })
  try {
    const lines = await importSeed({ atlas, storage, policy, logger: silentLogger, operationBudgetMs: config.operationBudgetMs }, documents,
      { apply, serviceId: SEED_SERVICE_ID, planId: SEED_PLAN_ID })
    for (const line of lines) out(`${line.outcome.padEnd(8)} ${line.kind} ${line.id}: ${line.detail}`)
    const count = (outcome: string): number => lines.filter(l => l.outcome === outcome).length
    const words = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`
    out(`${words(count('imported'), 'document')} ${apply ? 'imported' : 'to import'}, ${count('present')} already present, ${count('skipped')} skipped, ${count('failed')} failed` +
      (apply ? '' : ' (dry run: nothing was written; run again with --apply)'))
    if (count('failed') > 0) err('some documents failed: run the same command again once the cause is fixed (imports are idempotent)')
    return count('failed') > 0 ? 1 : 0
  } finally {
    if (overrides.storage === undefined) await storage.close()
    await atlas.close()
  }
}

/** What an embedder or a test may pass instead of the configured adapters. */
export interface CliOverrides {
  /** The broker's state (import-seed). */
  storage?: StoragePort
}

async function runCommand (command: string | undefined, rest: string[], env: Record<string, string | undefined>, out: Out, err: Out, overrides: CliOverrides): Promise<number> {
  switch (command) {
    case 'serve':
      await serve(env)
      return -1
    case 'check':
      return await check(env, out)
    case 'catalog': {
      const config = loadConfig(localModeUnlessConfigured(env))
      const catalog = loadCatalog(config)
      // --file: the catalog as CATALOG_FILE takes it (with the `atlas` blocks); else as platforms see it.
      out(JSON.stringify(rest.includes('--file') ? catalog : servedCatalog(catalog), null, 2))
      return 0
    }
    case 'sweep':
      return await sweep(env, rest.includes('--delete'), out, err)
    case 'import-seed':
      return await importSeedCommand(env, rest, out, err, overrides)
    default:
      err(USAGE)
      return command === undefined || command === '--help' || command === 'help' ? 0 : 2
  }
}

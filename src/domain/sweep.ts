/**
 * Sweep: finds what this broker created in Atlas (database users labelled, clusters tagged `managed-by:
 * atlas-broker`) that no live broker record accounts for, and optionally deletes it. A resource whose record
 * is missing or a deleted tombstone is an orphan; one whose record is still being created is left alone.
 * The other way round it finds drift: live bindings whose Atlas user is gone, so their credentials no longer
 * work. A binding whose user Atlas deleted at its expiry (expiring credentials) is expected, not drift.
 */
import {
  type AtlasOrgPort, type AtlasPort, type DatabaseUser, type DatabaseUserAuth, ClusterNotFoundError, DatabaseUserNotFoundError, ProjectNotEmptyError,
  ProjectNotFoundError
} from '../ports/atlas-port.js'
import type { BindingRecord, StoragePort } from '../ports/storage-port.js'
import { BINDING_LABEL, INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from './kit.js'

export interface Orphan {
  kind: 'database-user' | 'cluster'
  name: string
  /** The OSB id its label or tag names. */
  owner: string
  reason: string
  clusterKind?: 'dedicated' | 'flex'
  /** How a database user authenticates (where Atlas keeps it). */
  auth?: DatabaseUserAuth
}

/** How many resources have been checked so far; `finished` once all of that kind have been. */
export interface SweepProgress {
  (checked: number, what: 'database users' | 'clusters' | 'bindings', finished: boolean): void
}

/** A live binding whose Atlas user is gone: its credentials no longer work (unbind and bind again). */
export interface MissingUser {
  bindingId: string
  instanceId: string
  username: string
}

export interface SweepReport {
  orphans: Orphan[]
  missingUsers: MissingUser[]
  /** Bindings past their expiry whose users Atlas deleted, as planned; unbinding them clears their records. */
  expired: number
}

/** Where Atlas keeps a user: its auth database and name. */
function userKey (username: string, auth: DatabaseUserAuth): string {
  return `${auth === 'scram' ? 'admin' : '$external'}/${username}`
}

/**
 * Orphans, then the live bindings of this project (`inProject`; default: those in the configured one) whose users Atlas no longer has. Only the names of the users read are kept
 * (a set of strings), and bindings are read a page at a time. A binding made or changed after the sweep began
 * is left out (its user may be newer than the pages read).
 */
export async function sweepAtlas (
  atlas: AtlasPort, storage: StoragePort, progress: SweepProgress = () => {}, now: () => number = Date.now,
  inProject: (binding: BindingRecord) => boolean = binding => binding.project === undefined
): Promise<SweepReport> {
  const started = now()
  const seen = new Set<string>()
  const orphans = await findOrphans(atlas, storage, progress, user => seen.add(userKey(user.username, user.auth)))
  const missingUsers: MissingUser[] = []
  let expired = 0
  let checked = 0
  for await (const page of storage.liveBindingPages()) {
    for (const binding of page) {
      if (binding.state !== 'ready' || !inProject(binding) || Date.parse(binding.updatedAt) >= started) continue
      if (seen.has(userKey(binding.username, binding.auth?.kind ?? 'scram'))) continue
      if (binding.expiresAt !== undefined && Date.parse(binding.expiresAt) <= now()) expired++
      else missingUsers.push({ bindingId: binding.id, instanceId: binding.instanceId, username: binding.username })
    }
    checked += page.length
    progress(checked, 'bindings', false)
  }
  progress(checked, 'bindings', true)
  return { orphans, missingUsers, expired }
}

/**
 * Database users are read a page at a time and checked as they come, so a project with tens of thousands of
 * users is swept in bounded memory: only the orphans are kept.
 */
export async function findOrphans (
  atlas: AtlasPort, storage: StoragePort, progress: SweepProgress = () => {}, onUser: (user: DatabaseUser) => void = () => {}
): Promise<Orphan[]> {
  const orphans: Orphan[] = []
  let checked = 0
  for await (const page of atlas.databaseUserPages()) {
    for (const user of page) {
      onUser(user)
      await checkUser(user, storage, orphans)
    }
    checked += page.length
    progress(checked, 'database users', false)
  }
  progress(checked, 'database users', true)
  const clusters = (await atlas.listClusters()).filter(c => c.tags.some(t => t.key === MANAGED_BY_LABEL && t.value === MANAGED_BY))
  for (const [i, cluster] of clusters.entries()) {
    const instanceId = cluster.tags.find(t => t.key === INSTANCE_LABEL)?.value
    if (instanceId !== undefined && cluster.stateName !== 'DELETING') {
      const record = await storage.getInstance(instanceId)
      if (record === undefined || record.state === 'deleted') {
        orphans.push({ kind: 'cluster', name: cluster.name, owner: instanceId, clusterKind: cluster.kind, reason: record === undefined ? 'no instance record' : 'instance deleted' })
      }
    }
    progress(i + 1, 'clusters', false)
  }
  progress(clusters.length, 'clusters', true)
  return orphans
}

/** Adds the user to `orphans` when the broker made it (its label) and no live record accounts for it. */
async function checkUser (user: DatabaseUser, storage: StoragePort, orphans: Orphan[]): Promise<void> {
  if (!user.labels.some(l => l.key === MANAGED_BY_LABEL && l.value === MANAGED_BY)) return
  const bindingId = user.labels.find(l => l.key === BINDING_LABEL)?.value
  const instanceId = user.labels.find(l => l.key === INSTANCE_LABEL)?.value
  if (bindingId !== undefined) {
    const record = await storage.getBinding(bindingId)
    if (record === undefined || record.state === 'deleted') {
      orphans.push({ kind: 'database-user', name: user.username, owner: bindingId, auth: user.auth, reason: record === undefined ? 'no binding record' : 'binding deleted' })
    }
  } else if (instanceId !== undefined) {
    // A temporary user (database drop) outlives its use only when a deprovision failed half-way.
    const record = await storage.getInstance(instanceId)
    if (record === undefined || record.state === 'deleted') {
      orphans.push({ kind: 'database-user', name: user.username, owner: instanceId, auth: user.auth, reason: 'temporary user of a deleted instance' })
    }
  }
}

/** Deletes the orphans (already gone counts as done); returns the ones that could not be deleted, with why. */
export async function deleteOrphans (atlas: AtlasPort, orphans: Orphan[]): Promise<Array<{ orphan: Orphan, error: string }>> {
  const failed: Array<{ orphan: Orphan, error: string }> = []
  for (const orphan of orphans) {
    try {
      if (orphan.kind === 'database-user') await atlas.deleteDatabaseUser(orphan.name, orphan.auth === undefined ? {} : { auth: orphan.auth })
      else await atlas.deleteCluster(orphan.name, orphan.clusterKind ?? 'dedicated')
    } catch (err) {
      if (err instanceof DatabaseUserNotFoundError || err instanceof ClusterNotFoundError) continue
      failed.push({ orphan, error: err instanceof Error ? err.message : String(err) })
    }
  }
  return failed
}

/** A project the broker created for an instance (project-per-instance plans) that no live record accounts for. */
export interface OrphanProject {
  projectId: string
  name: string
  /** The instance id its tag names. */
  owner: string
  reason: string
}

/** Projects of the organisation tagged as the broker's whose instance is gone. */
export async function findOrphanProjects (org: AtlasOrgPort, storage: StoragePort): Promise<OrphanProject[]> {
  const orphans: OrphanProject[] = []
  for (const project of await org.listProjects()) {
    if (!project.tags.some(t => t.key === MANAGED_BY_LABEL && t.value === MANAGED_BY)) continue
    const owner = project.tags.find(t => t.key === INSTANCE_LABEL)?.value
    if (owner === undefined) continue
    const record = await storage.getInstance(owner)
    if (record === undefined || record.state === 'deleted') {
      orphans.push({ projectId: project.id, name: project.name, owner, reason: record === undefined ? 'no instance record' : 'instance deleted' })
    }
  }
  return orphans
}

/**
 * Removes an orphan project: its clusters are deleted first (Atlas refuses to delete a project that has any);
 * returns 'deleted', or 'clusters-deleting' while Atlas still counts them (run the sweep again).
 */
export async function deleteOrphanProject (org: AtlasOrgPort, project: AtlasPort, orphan: OrphanProject): Promise<'deleted' | 'clusters-deleting'> {
  for (const cluster of await project.listClusters()) {
    if (cluster.stateName === 'DELETING') continue
    await project.deleteCluster(cluster.name, cluster.kind).catch((err: unknown) => {
      if (!(err instanceof ClusterNotFoundError)) throw err
    })
  }
  try {
    await org.deleteProject(orphan.projectId)
    return 'deleted'
  } catch (err) {
    if (err instanceof ProjectNotFoundError) return 'deleted'
    if (err instanceof ProjectNotEmptyError) return 'clusters-deleting'
    throw err
  }
}

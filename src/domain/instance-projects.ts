/**
 * A project per instance (cluster plans with `atlas.projectPerInstance`): on provision the broker creates an
 * Atlas project in the configured organisation (named by the `projectName` policy hook, tagged with the
 * instance id), opens its IP access list to the operator's default entries and the instance's `ipAccessList`,
 * and creates the cluster in it; on deprovision it deletes the cluster, waits for it to go, then deletes the
 * project. Every step can be repeated: a step that failed ambiguously (its answer lost) is resumed by the next
 * poll, finding what Atlas made by name and tag, so a restart or a platform retry never makes a second project.
 */
import {
  type AccessListEntry, type AtlasCluster, type AtlasOrgPort, type OrgProject, AccessListEntryNotFoundError, ClusterNotFoundError,
  DuplicateClusterNameError, ProjectExistsError, ProjectNotEmptyError, ProjectNotFoundError
} from '../ports/atlas-port.js'
import type { InstanceData } from '../ports/policy-port.js'
import { type JsonObject, BadRequestError, BrokerMisconfiguredError, InstanceConflictError } from '../ports/service-broker.js'
import type { InstanceRecord, OwnProject } from '../ports/storage-port.js'
import type { DedicatedClusterPlanSettings } from './catalog.js'
import { clusterSpec } from './cluster-specs.js'
import { type BrokerDeps, INSTANCE_LABEL, type Kit, labelValue, MANAGED_BY, MANAGED_BY_LABEL } from './kit.js'

const OPEN = new Set(['0.0.0.0/0', '::/0'])

/** A CIDR block for an address or block (an address gets /32 or /128); undefined when it is neither. */
export function cidrBlockOf (value: string): string | undefined {
  const [address = '', bits, ...rest] = value.split('/')
  if (rest.length > 0) return undefined
  const v4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(address)
  const v6 = !v4 && /^[0-9a-fA-F:]+$/.test(address) && address.includes(':') && (address.match(/::/g) ?? []).length <= 1
  if (!v4 && !v6) return undefined
  const max = v4 ? 32 : 128
  if (bits === undefined) return `${address}/${max}`
  return /^\d{1,3}$/.test(bits) && Number(bits) <= max ? `${address}/${Number(bits)}` : undefined
}

/**
 * The `ipAccessList` parameter, checked: `[{cidrBlock | ipAddress, comment?}]`, valid syntax, no open entry
 * (0.0.0.0/0, ::/0) unless the operator allows it. A 400 names the entry that is wrong.
 */
export function parseAccessList (value: unknown, allowOpen: boolean): AccessListEntry[] {
  if (!Array.isArray(value)) throw new BadRequestError("parameter 'ipAccessList' must be an array of { cidrBlock or ipAddress, comment? }")
  if (value.length > 200) throw new BadRequestError("parameter 'ipAccessList' holds at most 200 entries (Atlas's limit per project)")
  return value.map((item, i) => {
    const entry = typeof item === 'object' && item !== null && !Array.isArray(item) ? item as Record<string, unknown> : {}
    const given = entry.cidrBlock ?? entry.ipAddress
    if ((entry.cidrBlock === undefined) === (entry.ipAddress === undefined) || typeof given !== 'string') {
      throw new BadRequestError(`ipAccessList[${i}] must have either cidrBlock or ipAddress (a string)`)
    }
    const cidrBlock = cidrBlockOf(given)
    if (cidrBlock === undefined) throw new BadRequestError(`ipAccessList[${i}]: ${JSON.stringify(given.slice(0, 60))} is not an IP address or CIDR block (such as 203.0.113.7 or 198.51.100.0/24)`)
    if (entry.ipAddress !== undefined && given.includes('/')) throw new BadRequestError(`ipAccessList[${i}]: ipAddress takes an address; use cidrBlock for a block`)
    if (OPEN.has(cidrBlock) && !allowOpen) throw new BadRequestError(`ipAccessList[${i}]: ${cidrBlock} opens the cluster to the whole internet, which this broker does not allow; list the addresses your apps connect from`)
    if (entry.comment !== undefined && (typeof entry.comment !== 'string' || entry.comment.length > 80)) throw new BadRequestError(`ipAccessList[${i}]: comment must be a string of at most 80 characters`)
    return { cidrBlock, ...(typeof entry.comment === 'string' ? { comment: entry.comment } : {}) }
  })
}

/** On a shared project the parameter cannot apply: access lists are project-wide. */
export function refuseSharedAccessList (parameters: JsonObject): void {
  if (parameters.ipAccessList !== undefined) {
    throw new BadRequestError("parameter 'ipAccessList' applies only to plans that give each instance its own Atlas project: an access list is project-wide, and this plan's project is shared with other instances")
  }
}

export class InstanceProjects {
  private readonly deps: BrokerDeps
  private readonly kit: Kit

  constructor (deps: BrokerDeps, kit: Kit) {
    this.deps = deps
    this.kit = kit
  }

  /** What a new instance's project will be, decided before anything is written (its name from the policy). */
  plan (settings: NonNullable<DedicatedClusterPlanSettings['projectPerInstance']>, facts: InstanceData, parameters: JsonObject): OwnProject {
    return {
      name: this.kit.policy.projectName(facts),
      organizationId: settings.organizationId,
      ...(settings.credentials === undefined ? {} : { credentials: settings.credentials }),
      stage: 'project',
      accessList: this.desiredAccessList(parameters)
    }
  }

  /** The operator's default entries and the instance's `ipAccessList` (checked), each block once. */
  desiredAccessList (parameters: JsonObject): AccessListEntry[] {
    const requested = parameters.ipAccessList === undefined ? [] : parseAccessList(parameters.ipAccessList, this.deps.settings.allowOpenAccessList === true)
    const defaults = (this.deps.settings.defaultIpAccessList ?? []).map(cidrBlock => ({ cidrBlock, comment: 'platform (broker default)' }))
    const entries = new Map<string, AccessListEntry>()
    for (const entry of [...defaults, ...requested]) entries.set(entry.cidrBlock, entry)
    return [...entries.values()]
  }

  /** Brings the project's access list to `wanted`: new entries added (one call), entries no longer wanted deleted. */
  async applyAccessList (record: InstanceRecord, wanted: AccessListEntry[], deadline: number): Promise<InstanceRecord> {
    const atlas = this.kit.atlasOf(record)
    const had = new Set((record.ownProject?.accessList ?? []).map(e => e.cidrBlock))
    const keep = new Set(wanted.map(e => e.cidrBlock))
    await atlas.addAccessListEntries(wanted.filter(e => !had.has(e.cidrBlock)), { deadline })
    for (const cidrBlock of had) {
      if (keep.has(cidrBlock)) continue
      await atlas.deleteAccessListEntry(cidrBlock, { deadline }).catch((err: unknown) => {
        if (!(err instanceof AccessListEntryNotFoundError)) throw err
      })
    }
    return await this.deps.storage.updateInstance(record.id, record.version, { ownProject: { ...record.ownProject!, accessList: wanted } })
  }

  private org (own: OwnProject): AtlasOrgPort {
    if (this.deps.atlasOrgFor === undefined) throw new BrokerMisconfiguredError('a plan gives instances their own Atlas project, but this broker has no organisation access configured')
    return this.deps.atlasOrgFor(own.credentials)
  }

  /**
   * Makes sure the instance's project exists (created, or found by name and adopted when its tag names this
   * instance) and its access list holds the entries; returns the record with `project` set and the stage moved
   * on. A project of that name that is not this instance's is a 409 (the claim is the caller's to undo).
   */
  async ensure (record: InstanceRecord, deadline: number): Promise<InstanceRecord> {
    let current = record
    const own = current.ownProject!
    if (own.stage === 'project') {
      const project = await this.createOrAdopt(current, own, deadline)
      current = await this.deps.storage.updateInstance(current.id, current.version, {
        project: { projectId: project.id, ...(own.credentials === undefined ? {} : { credentials: own.credentials }) },
        ownProject: { ...own, stage: 'network' }
      })
    }
    if (current.ownProject!.stage === 'network') {
      await this.kit.atlasOf(current).addAccessListEntries(current.ownProject!.accessList, { deadline })
      current = await this.deps.storage.updateInstance(current.id, current.version, { ownProject: { ...current.ownProject!, stage: 'cluster' } })
    }
    return current
  }

  private async createOrAdopt (record: InstanceRecord, own: OwnProject, deadline: number): Promise<OrgProject> {
    const tags = [{ key: INSTANCE_LABEL, value: labelValue(record.id) }, { key: MANAGED_BY_LABEL, value: MANAGED_BY }]
    try {
      return await this.org(own).createProject({ name: own.name, orgId: own.organizationId, tags }, { deadline })
    } catch (err) {
      if (!(err instanceof ProjectExistsError)) throw err
    }
    const found = await this.org(own).findProject(own.name, { deadline })
    if (found === undefined || !ownedBy(found, record.id)) {
      throw new InstanceConflictError(`an Atlas project named ${own.name} already exists in the organisation and does not belong to this instance`)
    }
    return found
  }

  /**
   * The instance's cluster, or undefined when Atlas has none. An own project not yet made has no cluster (and
   * the configured project is never looked in for it).
   */
  async clusterOf (record: InstanceRecord, deadline: number): Promise<AtlasCluster | undefined> {
    if (record.ownProject !== undefined && record.project === undefined) return undefined
    return await this.kit.atlasOf(record).getCluster(record.cluster, { deadline }).catch((err: unknown) => {
      if (err instanceof ClusterNotFoundError) return undefined
      throw err
    })
  }

  /**
   * A project-per-instance provision left half-way (an ambiguous failure, a restart): makes sure the project,
   * its access list and the cluster exist, each found again if it was made. Skipped while another replica
   * holds the claim.
   */
  async resume (record: InstanceRecord, settings: DedicatedClusterPlanSettings, deadline: number): Promise<InstanceRecord> {
    if (this.kit.leaseIsLive(record)) return record
    let current = record.ownProject?.stage === 'cluster' ? record : await this.ensure(record, deadline)
    if (await this.clusterOf(current, deadline) === undefined) {
      await this.kit.atlasOf(current).createCluster(clusterSpec(settings, current.parameters, current.cluster, current.id), { deadline }).catch((err: unknown) => {
        if (!(err instanceof DuplicateClusterNameError)) throw err
      })
      current = (await this.deps.storage.getInstance(current.id)) ?? current
    }
    return current
  }

  /** Whether every access list entry Atlas holds for the instance is ACTIVE (in force). */
  async networkReady (record: InstanceRecord, deadline: number): Promise<boolean> {
    const atlas = this.kit.atlasOf(record)
    for (const entry of record.ownProject?.accessList ?? []) {
      const status = await atlas.accessListEntryStatus(entry.cidrBlock, { deadline }).catch((err: unknown) => {
        if (err instanceof AccessListEntryNotFoundError) return 'MISSING' as const
        throw err
      })
      if (status === 'MISSING') await atlas.addAccessListEntries([entry], { deadline })
      if (status !== 'ACTIVE') return false
    }
    return true
  }

  /**
   * Deletes the instance's project once it holds no cluster; found by name when the record never learnt its
   * id (an ambiguous create). Returns true once it is gone (already gone counts); false while Atlas still
   * counts a cluster in it.
   */
  async remove (record: InstanceRecord, deadline: number): Promise<boolean> {
    const own = record.ownProject
    if (own === undefined) return true
    let projectId = record.project?.projectId
    if (projectId === undefined) {
      const found = await this.org(own).findProject(own.name, { deadline })
      if (found === undefined || !ownedBy(found, record.id)) return true
      projectId = found.id
    }
    try {
      await this.org(own).deleteProject(projectId, { deadline })
      return true
    } catch (err) {
      if (err instanceof ProjectNotFoundError) return true
      if (err instanceof ProjectNotEmptyError) return false
      throw err
    }
  }
}

function ownedBy (project: OrgProject, instanceId: string): boolean {
  return project.tags.some(tag => tag.key === INSTANCE_LABEL && tag.value === labelValue(instanceId))
}

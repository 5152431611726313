/**
 * What the simulated project holds (clusters, database users, where user changes are still propagating) and
 * how it moves on with time: CREATING → IDLE, UPDATING → IDLE (pending changes applied), DELETING → gone,
 * users PENDING → APPLIED per cluster. Transitions happen lazily, when anything looks (`tick`).
 */
import { randomBytes } from 'node:crypto'

export interface SimulatorDelays {
  /** Dedicated cluster CREATING → IDLE. */
  clusterCreateMs: number
  /** Dedicated cluster UPDATING → IDLE. */
  clusterUpdateMs: number
  /** DELETING → gone (404). */
  clusterDeleteMs: number
  /** Flex cluster CREATING → IDLE. */
  flexCreateMs: number
  /** Database user change PENDING → APPLIED on each cluster. */
  userPropagationMs: number
  /** IP access list entry PENDING → ACTIVE. */
  accessListMs?: number
}

export type StateName = 'IDLE' | 'CREATING' | 'UPDATING' | 'DELETING' | 'REPAIRING'

export interface SimCluster {
  kind: 'dedicated' | 'flex'
  id: string
  name: string
  createDate: string
  stateName: StateName
  /** When the current transition completes (ms epoch). */
  until?: number
  /** Applied when an UPDATING transition completes. */
  pending?: Record<string, unknown>
  /** The writable part of the cluster, in the 2024-08-05 shape (full specs). */
  body: Record<string, unknown>
  hostId: string
  /** Private networking set up for it (tests): VPC peering, and private endpoint ids (with their region). */
  privateNetworking?: { peering: boolean, endpoints: Array<{ endpointId: string, providerName: string, region: string }> }
}

export interface SimUser {
  username: string
  databaseName: string
  password: string
  roles: Array<Record<string, unknown>>
  scopes: Array<{ name: string, type: string }>
  labels: Array<{ key: string, value: string }>
  description?: string
  /** A temporary user: deleted at this time (ms epoch). */
  deleteAfter?: number
  /** Atlas's authentication fields (`NONE` unless set): awsIAMType, x509Type, oidcAuthType, ldapAuthType. */
  auth?: Partial<Record<AuthField, string>>
  /** Certificates issued to an Atlas-managed X.509 user. */
  certificates?: Array<{ id: string, createdAt: string, notAfter: string, subject: string }>
}

export const AUTH_FIELDS = ['awsIAMType', 'x509Type', 'oidcAuthType', 'ldapAuthType'] as const
export type AuthField = (typeof AUTH_FIELDS)[number]

export function hex (bytes: number): string {
  return randomBytes(bytes).toString('hex')
}

export class SimState {
  readonly clusters = new Map<string, SimCluster>()
  readonly users = new Map<string, SimUser>()
  /** cluster name → time until which user changes are PENDING there. */
  readonly pendingUntil = new Map<string, number>()
  readonly delays: SimulatorDelays

  constructor (delays: SimulatorDelays) {
    this.delays = delays
  }

  newCluster (kind: 'dedicated' | 'flex', name: string, body: Record<string, unknown>): SimCluster {
    return { kind, id: hex(12), name, createDate: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), stateName: 'CREATING', body, hostId: hex(3).slice(0, 5) }
  }

  /** A user change reaches each cluster in its scopes (all clusters when unscoped) after the propagation delay. */
  markPending (scopes: Array<{ name: string }>): void {
    const until = Date.now() + this.delays.userPropagationMs
    const names = scopes.length === 0 ? [...this.clusters.keys()] : scopes.map(s => s.name)
    for (const name of names) this.pendingUntil.set(name, Math.max(this.pendingUntil.get(name) ?? 0, until))
  }

  changeStatus (cluster: string): 'PENDING' | 'APPLIED' {
    return (this.pendingUntil.get(cluster) ?? 0) > Date.now() ? 'PENDING' : 'APPLIED'
  }

  /** Applies the transitions whose time has come (temporary users past their deleteAfterDate are deleted). */
  tick (): void {
    const now = Date.now()
    for (const [key, user] of this.users) {
      if (user.deleteAfter !== undefined && user.deleteAfter <= now) {
        this.users.delete(key)
        this.markPending(user.scopes)
      }
    }
    for (const [name, c] of this.clusters) {
      if (c.until === undefined || c.until > now) continue
      delete c.until
      if (c.stateName === 'DELETING') {
        this.clusters.delete(name)
        this.pendingUntil.delete(name)
      } else if (c.stateName === 'CREATING' || c.stateName === 'UPDATING' || c.stateName === 'REPAIRING') {
        if (c.pending !== undefined) {
          Object.assign(c.body, c.pending)
          delete c.pending
        }
        c.stateName = 'IDLE'
      }
    }
  }
}

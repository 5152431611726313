/**
 * A project's IP access list (`/groups/{id}/accessList`, 2023-01-01) in the recorded shape: POST takes an
 * array and answers the whole list (201); a single address is kept as a /32 block and shown with its
 * `ipAddress`; each entry is PENDING until it has propagated, then ACTIVE (`.../status` answers
 * `{"STATUS": ...}`, upper-case key as the spec has it). A missing entry is
 * `404 ATLAS_NETWORK_PERMISSION_ENTRY_NOT_FOUND` (the code MongoDB's Terraform provider checks for).
 */
import { isIPv4, isIPv6 } from 'node:net'
import type { SimAuth } from './auth.js'
import { HttpFailure, type RouteContext, type Routed, VERSIONS, asArray, asObject, invalidAttribute, page } from './http.js'

export interface SimAccessEntry {
  cidrBlock: string
  comment?: string
  /** When it becomes ACTIVE (ms epoch). */
  activeAt: number
}

/** A CIDR block for `value` (an address gets /32 or /128), or undefined when it is neither. */
export function cidrOf (value: string): string | undefined {
  const [address = '', bits, ...rest] = value.split('/')
  if (rest.length > 0) return undefined
  const max = isIPv4(address) ? 32 : isIPv6(address) ? 128 : undefined
  if (max === undefined) return undefined
  if (bits === undefined) return `${address}/${max}`
  const n = Number(bits)
  return Number.isInteger(n) && n >= 0 && n <= max && String(n) === bits ? `${address}/${n}` : undefined
}

export class AccessListRoutes {
  readonly entries = new Map<string, SimAccessEntry>()
  private readonly auth: SimAuth
  private readonly project: { projectId: string, linkBase: string }
  private readonly propagationMs: () => number

  constructor (auth: SimAuth, project: { projectId: string, linkBase: string }, propagationMs: () => number) {
    this.auth = auth
    this.project = project
    this.propagationMs = propagationMs
  }

  route (ctx: RouteContext): Routed | undefined {
    const { method, rest } = ctx
    const v = ctx.accept(VERSIONS.v20230101)
    this.auth.requirePermission(method === 'GET' ? 'read' : 'owner')
    if (rest.length === 0 && method === 'GET') return ctx.ok(200, this.list(ctx.url), v)
    if (rest.length === 0 && method === 'POST') {
      const added = asArray(ctx.body).map(item => this.entryOf(asObject(item)))
      if (!Array.isArray(ctx.body) || added.length === 0) throw invalidAttribute('accessList')
      for (const entry of added) {
        const existing = this.entries.get(entry.cidrBlock)
        this.entries.set(entry.cidrBlock, { ...entry, activeAt: existing?.activeAt ?? Date.now() + this.propagationMs() })
      }
      return ctx.ok(201, this.list(ctx.url), v)
    }
    const cidr = cidrOf(rest[0] ?? '')
    const entry = cidr === undefined ? undefined : this.entries.get(cidr)
    if (entry === undefined) {
      throw new HttpFailure(404, 'ATLAS_NETWORK_PERMISSION_ENTRY_NOT_FOUND', `IP Address ${rest[0] ?? ''} not on Atlas access list for group ${this.project.projectId}.`, [rest[0] ?? '', this.project.projectId])
    }
    if (rest.length === 2 && rest[1] === 'status' && method === 'GET') return ctx.ok(200, { STATUS: entry.activeAt <= Date.now() ? 'ACTIVE' : 'PENDING' }, v)
    if (rest.length !== 1) return undefined
    if (method === 'GET') return ctx.ok(200, this.view(entry), v)
    if (method === 'DELETE') { this.entries.delete(entry.cidrBlock); return ctx.ok(204, undefined, v) }
    return undefined
  }

  private entryOf (b: Record<string, unknown>): Omit<SimAccessEntry, 'activeAt'> {
    const given = typeof b.cidrBlock === 'string' ? b.cidrBlock : typeof b.ipAddress === 'string' ? b.ipAddress : undefined
    const cidrBlock = given === undefined ? undefined : cidrOf(given)
    if (cidrBlock === undefined) throw invalidAttribute(typeof b.cidrBlock === 'string' ? 'cidrBlock' : 'ipAddress')
    if (b.comment !== undefined && (typeof b.comment !== 'string' || b.comment.length > 80)) throw invalidAttribute('comment')
    return { cidrBlock, ...(typeof b.comment === 'string' ? { comment: b.comment } : {}) }
  }

  private list (url: URL): Record<string, unknown> {
    return page(url, [...this.entries.values()], this.project.linkBase, e => this.view(e))
  }

  private view (e: SimAccessEntry): Record<string, unknown> {
    const single = e.cidrBlock.endsWith('/32') || e.cidrBlock.endsWith('/128')
    return {
      cidrBlock: e.cidrBlock,
      ...(e.comment === undefined ? {} : { comment: e.comment }),
      groupId: this.project.projectId,
      ...(single ? { ipAddress: e.cidrBlock.replace(/\/\d+$/, '') } : {}),
      links: [{ href: `${this.project.linkBase}/api/atlas/v2/groups/${this.project.projectId}/accessList/${encodeURIComponent(e.cidrBlock)}`, rel: 'self' }]
    }
  }
}

/**
 * Which network path a binding's `uri` takes: the cluster's public strings (the default), VPC peering
 * (`private`) or private endpoints (`privateEndpoint`, optionally the entry of one endpoint id), as the plan's
 * `atlas.connection` or the bind's `connection` parameter says. Credentials carry every string Atlas reports
 * under `connectionStrings`, whichever `uri` is built from, as the Atlas Operator's connection secrets do.
 */
import type { ConnectionStrings } from '../ports/atlas-port.js'
import { type JsonObject, BadRequestError } from '../ports/service-broker.js'
import type { PrivateConnection } from '../ports/storage-port.js'

export const CONNECTION_KINDS = ['public', 'private', 'privateEndpoint'] as const
export type ConnectionKind = (typeof CONNECTION_KINDS)[number]

export interface ConnectionSettings {
  /** The path bindings' `uri` takes unless a bind says otherwise (default public). */
  connection?: ConnectionKind
}

/** The bind's choice, checked: undefined for public (nothing to remember). */
export function requestedConnection (parameters: JsonObject, settings: ConnectionSettings): PrivateConnection | undefined {
  const asked = parameters.connection ?? settings.connection ?? 'public'
  if (typeof asked !== 'string' || !(CONNECTION_KINDS as readonly string[]).includes(asked)) {
    throw new BadRequestError(`parameter 'connection' must be one of ${CONNECTION_KINDS.join(', ')}`)
  }
  const endpointId = parameters.privateEndpointId
  if (endpointId !== undefined && asked !== 'privateEndpoint') throw new BadRequestError("parameter 'privateEndpointId' applies only to connection privateEndpoint")
  if (endpointId !== undefined && (typeof endpointId !== 'string' || !/^[\w.:/-]{1,256}$/.test(endpointId))) {
    throw new BadRequestError("parameter 'privateEndpointId' must be the cloud provider's endpoint id (such as vpce-0123456789abcdef0)")
  }
  if (asked === 'public') return undefined
  return { kind: asked as PrivateConnection['kind'], ...(endpointId === undefined ? {} : { endpointId }) }
}

/** The SRV and standard strings the `uri` is built from; undefined when the cluster has none on that path. */
export function chosenStrings (strings: ConnectionStrings, path: PrivateConnection | undefined): { srv?: string, standard?: string } | undefined {
  const pick = (srv: string | undefined, standard: string | undefined): { srv?: string, standard?: string } | undefined =>
    srv === undefined && standard === undefined ? undefined : { ...(srv === undefined ? {} : { srv }), ...(standard === undefined ? {} : { standard }) }
  if (path === undefined) return pick(strings.standardSrv, strings.standard)
  if (path.kind === 'private') return pick(strings.privateSrv, strings.private)
  const entries = strings.privateEndpoint ?? []
  const entry = path.endpointId === undefined ? entries[0] : entries.find(e => e.endpointIds.includes(path.endpointId!))
  return entry === undefined ? undefined : pick(entry.srvConnectionString, entry.connectionString)
}

/** Why a cluster cannot be reached on `path` yet, in words an app team can act on. */
export function unreachableMessage (cluster: string, path: PrivateConnection): string {
  if (path.kind === 'private') return `cluster ${cluster} has no VPC peering connection string (Atlas shows one once peering exists, on AWS only with custom DNS): bind with connection public, or ask the operator`
  return path.endpointId === undefined
    ? `cluster ${cluster} has no private endpoint connection string (Atlas shows them once the cluster has a private endpoint in every region it runs in): bind with connection public, or ask the operator`
    : `cluster ${cluster} has no private endpoint ${path.endpointId}: name one of its endpoints, or leave privateEndpointId out`
}

/** The problems of a plan's connection setting, for the catalog check. */
export function checkConnectionSettings (where: string, settings: ConnectionSettings): string[] {
  const kind = settings.connection
  return kind === undefined || (CONNECTION_KINDS as readonly string[]).includes(kind) ? [] : [`${where}: atlas.connection must be one of ${CONNECTION_KINDS.join(', ')}`]
}

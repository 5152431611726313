/**
 * What a new binding is made of, decided before anything is written: the facts the policy sees (with the
 * authentication, lifetime and predecessor asked for) and the policy's decisions, checked.
 */
import type { DatabaseUserAuth } from '../ports/atlas-port.js'
import { type BindDetails, type JsonObject, BadRequestError } from '../ports/service-broker.js'
import type { BindingRecord, InstanceRecord } from '../ports/storage-port.js'
import { type BindingAuth, type BindingAuthSettings, atlasUsername, requestedKind, resolveAuth } from './binding-auth.js'
import type { ConnectionSettings } from './binding-connection.js'
import { authOf } from './binding-credentials.js'
import type { ResolvedPlan } from './catalog.js'
import type { Kit } from './kit.js'
import type { BindingData } from './policy-calls.js'

/** What a bind carries besides the request: the plan's credential settings, a rotation's predecessor, a lifetime asked for. */
export interface BindExtras {
  /** The plan's settings for credentials (kinds of sign-in, network path). */
  authSettings: BindingAuthSettings & ConnectionSettings
  predecessor?: BindingRecord
  /** Hours until Atlas deletes the binding's user, as asked (1 to 168: Atlas keeps temporary users a week at most). */
  lifetimeHours?: number
}

export interface BindingDecision {
  facts: BindingData
  auth: BindingAuth
  username: string
  roles: BindingRecord['roles']
  expiresAt: string | undefined
}

/**
 * Everything a new binding is decided from, before anything is written: the facts the policy sees, and the
 * policy's decisions (authentication, username, roles, lifetime), checked. A claim taken over (its lease ran
 * out) keeps what it was made with; a deleted tombstone is started afresh.
 */
export function decideBinding (
kit: Kit, instance: InstanceRecord, bindingId: string, details: BindDetails, takeover: BindingRecord | undefined, extras: BindExtras
): BindingDecision {
  const { predecessor } = extras
  const parameters = details.parameters ?? {}
  const asked = bindingFacts(instance, bindingId, details, {
    auth: requestedKind(parameters, extras.authSettings, predecessor === undefined ? undefined : authOf(predecessor).kind),
    ...(extras.lifetimeHours === undefined ? {} : { lifetimeHours: extras.lifetimeHours }),
    ...(predecessor === undefined ? {} : { predecessor })
  })
  const kind = takeover !== undefined ? authOf(takeover).kind : kit.policy.bindingAuth(asked)
  // An IAM role or OIDC identity has no secret: a successor of the same kind would be the same Atlas user.
  const identity = predecessor === undefined ? undefined : authOf(predecessor)
  if (takeover === undefined && identity !== undefined && (identity.kind === 'aws-iam' || identity.kind === 'oidc') && kind === identity.kind) {
    throw new BadRequestError(`binding ${predecessor!.id} signs in as the ${identity.kind} identity ${predecessor!.username}, which has no secret to rotate: it keeps working as it is; unbind and bind again to change the identity`)
  }
  const auth = takeover !== undefined ? authOf(takeover) : resolveAuth(kind, parameters, extras.authSettings)
  const facts: BindingData = { ...asked, auth: auth.kind }
  const username = atlasUsername(auth, extras.authSettings, () => kit.policy.username(facts))
  const roles = kit.policy.roles(facts)
  const hours = takeover !== undefined ? undefined : kit.policy.bindingLifetimeHours(facts)
  const expiresAt = takeover !== undefined ? takeover.expiresAt : hours === undefined ? undefined : new Date(kit.now() + hours * 3600_000).toISOString()
  return { facts, auth, username, roles, expiresAt }
}

/** What the policy hooks are told about a binding, besides the request: how it authenticates, lifetime and predecessor as asked. */
export function bindingFacts (
  instance: InstanceRecord, bindingId: string, details: BindDetails,
  asked: { auth: DatabaseUserAuth, lifetimeHours?: number, predecessor?: BindingRecord } = { auth: 'scram' }
): BindingData {
  const { predecessor } = asked
  return {
    bindingId,
    instanceId: instance.id,
    serviceId: details.serviceId,
    planId: details.planId,
    parameters: details.parameters ?? {},
    context: details.context ?? {},
    database: instance.database,
    cluster: instance.cluster,
    auth: asked.auth,
    ...(asked.lifetimeHours === undefined ? {} : { lifetimeHours: asked.lifetimeHours }),
    ...(details.predecessorBindingId === undefined ? {} : { predecessorBindingId: details.predecessorBindingId }),
    ...(predecessor === undefined
      ? {}
      : { predecessor: { bindingId: predecessor.id, username: predecessor.username, roles: structuredClone(predecessor.roles), auth: authOf(predecessor).kind } }),
    instance: {
      instanceId: instance.id,
      serviceId: instance.serviceId,
      planId: instance.planId,
      organizationGuid: instance.organizationGuid,
      spaceGuid: instance.spaceGuid,
      parameters: instance.parameters,
      context: instance.context ?? {}
    }
  }
}

/** Hours of an expiring binding: the `expiresInHours` parameter, else the plan's setting; Atlas keeps temporary users a week at most. */
export function bindingLifetime (parameters: JsonObject, resolved: ResolvedPlan): number | undefined {
  const asked = parameters.expiresInHours
  const hours = asked ?? resolved.plan.atlas.bindingLifetimeHours
  if (hours === undefined) return undefined
  if (typeof hours !== 'number' || !Number.isInteger(hours) || hours < 1 || hours > 168) {
    throw new BadRequestError('parameter \'expiresInHours\' must be a whole number of hours from 1 to 168 (Atlas keeps temporary users a week at most)')
  }
  return hours
}

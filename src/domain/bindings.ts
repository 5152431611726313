/**
 * Bindings: one Atlas database user per binding, created after the binding is claimed in storage, answered
 * only once the user can log in, undone when anything fails half-way, revoked on unbind and deprovision.
 * AtlasBroker checks the request (instance, plan, parameters) and hands it over here.
 *
 * Races: a bind reads its instance again after claiming the binding, and a deprovision looks for binding claims
 * after claiming the instance, so one of the two always sees the other; an undo removes only what is still
 * its own attempt's.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import {
  type ConnectionStrings, type DatabaseUserAuth, AtlasError, AtlasRateLimitedError, AtlasUnavailableError, ClusterNotFoundError,
  DatabaseUserExistsError, DatabaseUserNotFoundError
} from '../ports/atlas-port.js'
import {
  type BindDetails, type BindingSpec, type JsonObject, type RequestMeta, BindingConflictError, ConcurrencyError, UnprocessableError
} from '../ports/service-broker.js'
import { type BindingRecord, type InstanceRecord, type NewRecord, RecordExistsError, VersionConflictError } from '../ports/storage-port.js'
import { splitCertificate } from './binding-auth.js'
import { chosenStrings, requestedConnection, unreachableMessage } from './binding-connection.js'
import { type BindExtras, bindingFacts, decideBinding } from './binding-decisions.js'
import { type Login, authOf, baseCredentials, credentialsExpireAt, expiryMetadata, loginSecrets, standardStringOf } from './binding-credentials.js'
import { derivePassword, endpointsOf, seal, unseal } from './credentials.js'
import { jsonEqual } from './equality.js'
import { type BrokerDeps, BINDING_LABEL, describe, INSTANCE_LABEL, type Kit, labelValue, MANAGED_BY, MANAGED_BY_LABEL } from './kit.js'
import type { BindingData } from './policy-calls.js'

/** A deprovision met a bind that is still creating its user (422: retry). */
export class BindInProgressError extends ConcurrencyError {}

export { type BindExtras, bindingFacts } from './binding-decisions.js'

/** The binding's credentials expired: Atlas has deleted its user. */
export class ExpiredBindingError extends UnprocessableError {}

export class Bindings {
  private readonly deps: BrokerDeps
  private readonly kit: Kit

  constructor (deps: BrokerDeps, kit: Kit) {
    this.deps = deps
    this.kit = kit
  }

  /**
   * PUT of a binding whose instance was checked (usable, plan and parameters valid): answers an existing
   * binding, waits for one being created by another request, or creates it.
   */
  async bind (instance: InstanceRecord, bindingId: string, details: BindDetails, meta: RequestMeta, extras: BindExtras): Promise<BindingSpec> {
    const deadline = this.kit.deadline()
    for (;;) {
      const existing = await this.deps.storage.getBinding(bindingId)
      if (existing !== undefined && existing.state !== 'deleted') {
        if (existing.instanceId !== instance.id || !sameBinding(existing, details)) {
          throw new BindingConflictError(`binding ${bindingId} already exists with different attributes`)
        }
        if (existing.state === 'ready') return await this.answer(existing, bindingFacts(instance, bindingId, details, { auth: authOf(existing).kind }), deadline)
        if (existing.state === 'deleting') throw new ConcurrencyError(`binding ${bindingId} is being deleted`)
        if (this.kit.leaseIsLive(existing)) {
          if (this.kit.now() + 250 > deadline) throw new ConcurrencyError(`binding ${bindingId} is being created by another request`)
          await sleep(100)
          continue
        }
        return await this.createBindingUser(instance, bindingId, details, existing, deadline, meta, extras)
      }
      return await this.createBindingUser(instance, bindingId, details, existing, deadline, meta, extras)
    }
  }

  /** Claims the binding record, creates (or adopts) its Atlas user, waits until it can log in, marks it ready. */
  private async createBindingUser (
    instance: InstanceRecord, bindingId: string, details: BindDetails, stale: BindingRecord | undefined,
    deadline: number, meta: RequestMeta, extras: BindExtras
  ): Promise<BindingSpec> {
    const { settings } = this.deps
    const takeover = stale !== undefined && stale.state !== 'deleted' ? stale : undefined
    const { facts, auth, username, roles, expiresAt } = decideBinding(this.kit, instance, bindingId, details, takeover, extras)
    const connection = takeover !== undefined ? takeover.connection : requestedConnection(details.parameters ?? {}, extras.authSettings)
    // A private path the cluster does not have yet is refused before anything is made.
    if (connection !== undefined && takeover === undefined) {
      const cluster = await this.kit.atlasOf(instance).getCluster(instance.cluster, { deadline })
      if (chosenStrings(cluster.connectionStrings, connection) === undefined) throw new UnprocessableError(unreachableMessage(instance.cluster, connection))
    }
    // A takeover keeps the key its claim was made with; a new binding takes the current one.
    const keyId = takeover?.keyId ?? this.kit.currentKeyId()
    const secret = this.kit.secretFor(keyId)
    const password = auth.kind !== 'scram'
      ? undefined
      : takeover?.sealedPassword !== undefined
        ? unseal(secret, takeover.sealedPassword)
        : this.kit.policy.password(facts, purpose => derivePassword(secret, facts.bindingId, purpose))

    const claim: NewRecord<BindingRecord> = {
      id: facts.bindingId,
      state: 'creating',
      lastOperation: this.kit.operation('bind', 'in progress'),
      leaseUntil: new Date(this.kit.now() + settings.leaseMs).toISOString(),
      instanceId: instance.id,
      serviceId: details.serviceId,
      planId: details.planId,
      parameters: details.parameters ?? {},
      ...(details.appGuid === undefined ? {} : { appGuid: details.appGuid }),
      ...(details.bindResource === undefined ? {} : { bindResource: details.bindResource }),
      ...(details.context === undefined ? {} : { context: details.context }),
      ...(details.predecessorBindingId === undefined ? {} : { predecessorBindingId: details.predecessorBindingId }),
      ...(expiresAt === undefined ? {} : { expiresAt }),
      ...(auth.kind === 'scram' ? {} : { auth }),
      ...(connection === undefined ? {} : { connection }),
      ...(instance.project === undefined ? {} : { project: instance.project }),
      username,
      roles,
      cluster: instance.cluster,
      database: instance.database,
      keyId,
      ...(password === undefined || this.kit.policy.predictableCredentials ? {} : { sealedPassword: seal(secret, password) })
    }
    let record: BindingRecord
    try {
      record = stale === undefined
        ? await this.deps.storage.createBinding(claim)
        : await this.deps.storage.updateBinding(claim.id, stale.version, {
          sealedPassword: undefined, expiresAt: undefined, auth: undefined, sealedCertificate: undefined, connection: undefined, ...claim
        })
    } catch (err) {
      // Another request claimed it first: the caller's loop re-reads and waits for (or answers with) its result.
      if (err instanceof RecordExistsError || err instanceof VersionConflictError) {
        return await this.bind(instance, facts.bindingId, details, meta, extras)
      }
      throw err
    }

    // Whether this binding's user may exist in Atlas: an attempt taken over may have created it already.
    const attempt = { userMayExist: stale !== undefined }
    let spec: BindingSpec
    try {
      // The instance is read again after the claim: a deprovision claims the instance, then looks for binding
      // claims, so one of the two always sees the other (see deprovision).
      await this.requireUsableInstance(instance.id)
      await this.ensureDatabaseUser(record, password, deadline, attempt)
      // An X.509 user's certificate: issued for each attempt (an earlier attempt's never left this process).
      const certificate = auth.kind === 'x509'
        ? splitCertificate(await this.kit.atlasOf(record).createUserCertificate(record.username, auth.certificateMonths, { deadline }))
        : undefined
      await this.kit.waitUntilApplied(this.kit.atlasOf(record), record.cluster, deadline)
      // The answer (credentials hook included) is built before the binding is marked ready: a hook that fails
      // leaves no ready binding and no user.
      const connection = await this.connectionStringsOf(record, deadline)
      const login: Login = password !== undefined ? { password } : certificate !== undefined ? { certificate } : {}
      spec = this.bindingAnswer(record, facts, connection, login, false)
      record = await this.deps.storage.updateBinding(record.id, record.version, {
        state: 'ready', leaseUntil: undefined, lastOperation: this.kit.operation('bind', 'succeeded'), connectionStrings: connection,
        ...(certificate === undefined ? {} : { sealedCertificate: seal(secret, `${certificate.certificate}${certificate.privateKey}`) })
      })
    } catch (err) {
      // A user owned by something else (BindingConflictError) is never ours to delete.
      await this.undoBinding(record, attempt.userMayExist && !(err instanceof BindingConflictError), err, deadline)
      throw err
    }
    this.deps.logger.info({
      instanceId: instance.id, bindingId: record.id, username, auth: auth.kind, originatingIdentity: meta.originatingIdentity
    }, 'binding created')
    return spec
  }

  /** After a binding claim: the instance must still be there and usable (not being deleted). */
  private async requireUsableInstance (instanceId: string): Promise<void> {
    const now = await this.deps.storage.getInstance(instanceId)
    if (now === undefined || now.state === 'deleted' || now.state === 'deleting') {
      throw new ConcurrencyError(`instance ${instanceId} is being deleted`)
    }
  }

  /**
   * Creates the binding's Atlas user. A user of that name that this binding owns (an earlier attempt)
   * is adopted and brought up to date; one owned by anything else is a conflict. Sets `attempt.userMayExist`
   * once the user exists, or may: a create that failed with AtlasUnavailableError (timeout, 5xx) may have been
   * applied with its answer lost; any other error from Atlas means it made nothing (see AtlasPort).
   */
  private async ensureDatabaseUser (record: BindingRecord, password: string | undefined, deadline: number, attempt: { userMayExist: boolean }): Promise<void> {
    const labels = [
      { key: BINDING_LABEL, value: labelValue(record.id) },
      { key: INSTANCE_LABEL, value: labelValue(record.instanceId) },
      { key: MANAGED_BY_LABEL, value: MANAGED_BY }
    ]
    const auth = authOf(record).kind
    const spec = {
      username: record.username, auth, ...(password === undefined ? {} : { password }), roles: record.roles, scopes: [record.cluster], labels,
      ...(record.expiresAt === undefined ? {} : { deleteAfterDate: record.expiresAt.replace(/\.\d+Z$/, 'Z') })
    }
    try {
      await this.kit.atlasOf(record).createDatabaseUser({ ...spec, description: 'Open Service Broker binding' }, { deadline })
      attempt.userMayExist = true
      return
    } catch (err) {
      if (!(err instanceof DatabaseUserExistsError)) {
        if (!(err instanceof AtlasError) || err instanceof AtlasUnavailableError) attempt.userMayExist = true
        throw err
      }
    }
    const current = await this.kit.atlasOf(record).getDatabaseUser(record.username, { deadline, auth })
    const owner = current.labels.find(label => label.key === BINDING_LABEL)?.value
    if (owner !== labelValue(record.id)) throw new BindingConflictError(takenMessage(record.username, auth))
    attempt.userMayExist = true
    await this.kit.atlasOf(record).updateDatabaseUser(record.username, {
      ...(password === undefined ? {} : { password }), roles: spec.roles, scopes: spec.scopes, labels
    }, { deadline, auth })
  }

  /**
   * After a failed bind: deletes the binding's user (when one may exist; not found counts as gone) and the
   * claim, so nothing half-made stays. If the user cannot be deleted now, the record stays, marked failed
   * and unlocked, so the platform's DELETE (orphan mitigation) finds and removes the user. Only what is still
   * this attempt's is removed: when another request has since taken the claim over (its lease ran out), the
   * user and the record are that request's now, and are left alone.
   */
  private async undoBinding (record: BindingRecord, userMayExist: boolean, cause: unknown, deadline: number): Promise<void> {
    const { logger } = this.deps
    const now = await this.deps.storage.getBinding(record.id).catch(() => record)
    if (now !== undefined && now.version !== record.version && now.state !== 'deleted') {
      logger.warn({ bindingId: record.id }, 'a failed bind was taken over by another request; leaving its user and record to it')
      return
    }
    let userGone = !userMayExist
    if (userMayExist) {
      try {
        await this.kit.atlasOf(record).deleteDatabaseUser(record.username, { deadline: this.kit.cleanupDeadline(deadline), auth: authOf(record).kind })
        userGone = true
      } catch (err) {
        userGone = err instanceof DatabaseUserNotFoundError
        if (!userGone) logger.warn({ err, bindingId: record.id }, 'could not delete the user of a failed bind; the platform DELETE will')
      }
    }
    if (now === undefined || now.version !== record.version) return
    try {
      if (userGone) {
        await this.deps.storage.deleteBinding(record.id, record.version)
      } else {
        // Keep the record so that the platform's DELETE (orphan mitigation) finds and removes the user.
        await this.deps.storage.updateBinding(record.id, record.version, {
          leaseUntil: undefined, lastOperation: this.kit.operation('bind', 'failed', describe(cause))
        })
      }
    } catch (err) {
      logger.warn({ err, bindingId: record.id }, 'could not clean up the record of a failed bind; a retry or DELETE will')
    }
  }

  /** Deletes the binding's Atlas user (already gone counts as done) and leaves a tombstone. */
  async revoke (binding: BindingRecord, deadline: number): Promise<void> {
    try {
      await this.kit.atlasOf(binding).deleteDatabaseUser(binding.username, { deadline, auth: authOf(binding).kind })
    } catch (err) {
      if (!(err instanceof DatabaseUserNotFoundError)) throw err
    }
    try {
      await this.deps.storage.updateBinding(binding.id, binding.version, {
        state: 'deleted', leaseUntil: undefined, sealedPassword: undefined, sealedCertificate: undefined, lastOperation: this.kit.operation('unbind', 'succeeded')
      })
    } catch (err) {
      if (!(err instanceof VersionConflictError)) throw err
      const now = await this.deps.storage.getBinding(binding.id)
      if (now !== undefined && now.state !== 'deleted') throw new ConcurrencyError(`binding ${binding.id} changed during the delete; retry`)
    }
  }

  /** The answer to a repeated bind or a fetch: the stored binding's credentials, with the cluster's connection strings. */
  async answer (record: BindingRecord, facts: BindingData, deadline: number): Promise<BindingSpec> {
    const secret = this.kit.secretFor(record.keyId)
    const certificate = record.sealedCertificate === undefined ? undefined : splitCertificate(unseal(secret, record.sealedCertificate))
    const expiresAt = credentialsExpireAt(record, certificate)
    if (expiresAt !== undefined && Date.parse(expiresAt) <= this.kit.now()) {
      const why = expiresAt === record.expiresAt ? 'Atlas deleted its user' : 'its certificate is no longer valid'
      throw new ExpiredBindingError(`binding ${record.id} expired at ${expiresAt} (${why}): unbind it and bind again for new credentials`)
    }
    if (record.origin !== undefined && record.sealedPassword === undefined) {
      throw new UnprocessableError(`binding ${record.id} was made by ${record.origin}, which kept no password: its credentials cannot be shown again; unbind it and bind again for new ones`)
    }
    let login: Login = {}
    if (certificate !== undefined) login = { certificate }
    else if (authOf(record).kind === 'scram') {
      login = {
        password: record.sealedPassword !== undefined
          ? unseal(secret, record.sealedPassword)
          : this.kit.policy.password(facts, purpose => derivePassword(secret, facts.bindingId, purpose))
      }
    }
    return this.bindingAnswer(record, facts, await this.connectionStringsOf(record, deadline), login, true)
  }

  /**
   * The cluster's connection strings from Atlas; while Atlas cannot be reached, the ones recorded at bind time,
   * so fetches and repeated binds keep working through an Atlas outage.
   */
  private async connectionStringsOf (record: BindingRecord, deadline: number): Promise<ConnectionStrings> {
    try {
      return (await this.kit.atlasOf(record).getCluster(record.cluster, { deadline })).connectionStrings
    } catch (err) {
      if (err instanceof ClusterNotFoundError) {
        throw new UnprocessableError(`cluster ${record.cluster} of this instance no longer exists in the Atlas project`)
      }
      const transient = err instanceof AtlasUnavailableError || err instanceof AtlasRateLimitedError
      if (transient && record.connectionStrings !== undefined) return record.connectionStrings
      throw err
    }
  }

  private bindingAnswer (record: BindingRecord, facts: BindingData, connection: ConnectionStrings, login: Login, alreadyExists: boolean): BindingSpec {
    const base = baseCredentials(record, connection, login)
    const credentials = this.kit.policy.credentials(facts, record.username, 'password' in login ? login.password : undefined, base, loginSecrets(login))
    const endpoints = this.sendsEndpoints(facts.context) ? endpointsOf(standardStringOf(record, connection)) : undefined
    const expiresAt = credentialsExpireAt(record, 'certificate' in login ? login.certificate : undefined)
    return {
      alreadyExists, isAsync: false, credentials, ...(endpoints === undefined ? {} : { endpoints }),
      ...(expiresAt === undefined ? {} : { metadata: expiryMetadata(expiresAt, record.lastOperation.startedAt) })
    }
  }

  /**
   * Whether bind answers carry `endpoints`. `auto` leaves them out for Kubernetes platforms: the Service
   * Catalog's Go client decodes the spec's string ports as integers and fails on the whole answer.
   */
  private sendsEndpoints (context: JsonObject): boolean {
    const mode = this.deps.settings.bindingEndpoints ?? 'auto'
    return mode === 'always' || (mode === 'auto' && context.platform !== 'kubernetes')
  }

  /**
   * Revokes every live binding of the instance (their Atlas users deleted, tombstones left). Called once the
   * instance is claimed for deletion; a bind still creating its user (a live claim) makes it a ConcurrencyError,
   * since that bind may create its user after the revoke. Binds re-read the instance after claiming, so a bind
   * claimed after this check sees the deletion and gives up.
   */
  async revokeAll (instanceId: string, deadline: number): Promise<void> {
    const bindings = await this.deps.storage.listBindings(instanceId)
    const creating = bindings.find(b => b.state === 'creating' && this.kit.leaseIsLive(b))
    if (creating !== undefined) throw new BindInProgressError(`binding ${creating.id} of instance ${instanceId} is being created; retry the delete`)
    for (const binding of bindings) await this.revoke(binding, deadline)
  }
}

function sameBinding (existing: BindingRecord, details: BindDetails): boolean {
  return existing.serviceId === details.serviceId &&
    existing.planId === details.planId &&
    existing.appGuid === details.appGuid &&
    jsonEqual(existing.parameters, details.parameters ?? {}) &&
    jsonEqual(existing.bindResource ?? {}, details.bindResource ?? {}) &&
    existing.predecessorBindingId === details.predecessorBindingId
}

/** Why a bind could not take a username Atlas already has: for IAM and OIDC the identity itself is taken. */
function takenMessage (username: string, auth: DatabaseUserAuth): string {
  if (auth === 'aws-iam') return `the IAM role ${username} already has an Atlas user in this project (another binding, or made outside the broker): Atlas allows one user per role`
  if (auth === 'oidc') return `the OIDC identity ${username} already has an Atlas user in this project (another binding, or made outside the broker): Atlas allows one user per identity`
  return `Atlas database user '${username}' already exists and belongs to another binding or to no binding`
}

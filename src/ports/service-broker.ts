/**
 * The inbound port: one method per OSB v2.17 endpoint, modelled on pivotal-cf/brokerapi's ServiceBroker.
 * HTTP adapters translate requests into these details objects and the returned specs into responses;
 * nothing here knows about HTTP beyond the status codes carried by the error catalogue below.
 */

export type JsonObject = Record<string, unknown>

export type LastOperationState = 'in progress' | 'succeeded' | 'failed'

export interface MaintenanceInfo {
  version: string
  description?: string
}

export interface SchemaParameters {
  parameters: JsonObject
}

export interface PlanSchemas {
  service_instance?: { create?: SchemaParameters, update?: SchemaParameters }
  service_binding?: { create?: SchemaParameters }
}

export interface ServicePlan {
  id: string
  name: string
  description: string
  metadata?: JsonObject
  free?: boolean
  bindable?: boolean
  /** OSB 2.17: bindings of this plan may be rotated (a bind naming predecessor_binding_id). */
  binding_rotatable?: boolean
  plan_updateable?: boolean
  schemas?: PlanSchemas
  maximum_polling_duration?: number
  maintenance_info?: MaintenanceInfo
}

export interface ServiceOffering {
  id: string
  name: string
  description: string
  bindable: boolean
  tags?: string[]
  metadata?: JsonObject
  instances_retrievable?: boolean
  bindings_retrievable?: boolean
  allow_context_updates?: boolean
  plan_updateable?: boolean
  plans: ServicePlan[]
}

export interface Catalog {
  services: ServiceOffering[]
}

/** Who asked, from `X-Broker-API-Originating-Identity`; informational only. */
export interface OriginatingIdentity {
  platform: string
  value: JsonObject
}

export interface RequestMeta {
  originatingIdentity?: OriginatingIdentity
  requestIdentity?: string
}

export interface ProvisionDetails {
  serviceId: string
  planId: string
  organizationGuid: string
  spaceGuid: string
  context?: JsonObject
  parameters?: JsonObject
  maintenanceInfo?: MaintenanceInfo
}

export interface ProvisionedInstanceSpec {
  /** True when the instance already existed with identical attributes (OSB 200 instead of 201). */
  alreadyExists: boolean
  isAsync: boolean
  operation?: string
  dashboardUrl?: string
  metadata?: { labels?: JsonObject, attributes?: JsonObject }
}

export interface UpdateDetails {
  serviceId: string
  /** Absent: the plan must not change. */
  planId?: string
  /** Absent: parameters must not change. */
  parameters?: JsonObject
  context?: JsonObject
  previousValues?: { planId?: string, serviceId?: string, maintenanceInfo?: MaintenanceInfo }
  maintenanceInfo?: MaintenanceInfo
}

export interface UpdateServiceSpec {
  isAsync: boolean
  operation?: string
  dashboardUrl?: string
}

export interface DeprovisionDetails {
  serviceId: string
  planId: string
}

export interface DeprovisionServiceSpec {
  isAsync: boolean
  operation?: string
}

export interface PollDetails {
  serviceId?: string
  planId?: string
  operation?: string
}

export interface LastOperation {
  state: LastOperationState
  description?: string
  instanceUsable?: boolean
  updateRepeatable?: boolean
  /** Seconds the platform should wait before polling again. */
  retryAfterSeconds?: number
}

export interface FetchInstanceDetails {
  serviceId?: string
  planId?: string
}

export interface InstanceSpec {
  serviceId: string
  planId: string
  dashboardUrl?: string
  parameters?: JsonObject
  maintenanceInfo?: MaintenanceInfo
  metadata?: { labels?: JsonObject, attributes?: JsonObject }
}

export interface BindDetails {
  serviceId: string
  planId: string
  appGuid?: string
  bindResource?: JsonObject
  context?: JsonObject
  parameters?: JsonObject
  /** Binding rotation (OSB 2.17): the live binding of the same instance this one replaces. */
  predecessorBindingId?: string
}

export interface Endpoint {
  host: string
  ports: string[]
  protocol?: 'tcp' | 'udp' | 'all'
}

export interface BindingSpec {
  alreadyExists: boolean
  isAsync: boolean
  operation?: string
  credentials?: JsonObject
  endpoints?: Endpoint[]
  metadata?: { expires_at?: string, renew_before?: string }
}

export interface UnbindDetails {
  serviceId: string
  planId: string
}

export interface UnbindSpec {
  isAsync: boolean
  operation?: string
}

export interface FetchBindingDetails {
  serviceId?: string
  planId?: string
}

export interface FetchedBindingSpec {
  credentials?: JsonObject
  endpoints?: Endpoint[]
  parameters?: JsonObject
  metadata?: { expires_at?: string, renew_before?: string }
}

/** One method per OSB endpoint. Errors thrown are BrokerError subclasses (below); anything else is a 500. */
export interface ServiceBroker {
  /**
   * Catalog returns the services and plans this broker offers.
   *   GET /v2/catalog
   */
  catalog(): Catalog

  /**
   * Provision creates a service instance, or reports the identical one that exists.
   *   PUT /v2/service_instances/{instance_id}
   */
  provision(instanceId: string, details: ProvisionDetails, asyncAllowed: boolean, meta: RequestMeta): Promise<ProvisionedInstanceSpec>

  /**
   * Update changes an instance's plan, parameters or context; a 4xx applies none of it.
   *   PATCH /v2/service_instances/{instance_id}
   */
  update(instanceId: string, details: UpdateDetails, asyncAllowed: boolean, meta: RequestMeta): Promise<UpdateServiceSpec>

  /**
   * Deprovision deletes the instance and everything it created (its bindings' users included).
   *   DELETE /v2/service_instances/{instance_id}
   */
  deprovision(instanceId: string, details: DeprovisionDetails, asyncAllowed: boolean, meta: RequestMeta): Promise<DeprovisionServiceSpec>

  /**
   * LastOperation reports the instance's latest operation (a tombstone answers succeeded).
   *   GET /v2/service_instances/{instance_id}/last_operation
   */
  lastOperation(instanceId: string, details: PollDetails): Promise<LastOperation>

  /**
   * GetInstance returns a provisioned instance.
   *   GET /v2/service_instances/{instance_id}
   */
  getInstance(instanceId: string, details: FetchInstanceDetails): Promise<InstanceSpec>

  /**
   * Bind creates credentials for the instance (one Atlas database user per binding).
   *   PUT /v2/service_instances/{instance_id}/service_bindings/{binding_id}
   */
  bind(instanceId: string, bindingId: string, details: BindDetails, asyncAllowed: boolean, meta: RequestMeta): Promise<BindingSpec>

  /**
   * Unbind revokes the binding's credentials.
   *   DELETE /v2/service_instances/{instance_id}/service_bindings/{binding_id}
   */
  unbind(instanceId: string, bindingId: string, details: UnbindDetails, asyncAllowed: boolean, meta: RequestMeta): Promise<UnbindSpec>

  /**
   * LastBindingOperation reports the binding's latest operation.
   *   GET /v2/service_instances/{instance_id}/service_bindings/{binding_id}/last_operation
   */
  lastBindingOperation(instanceId: string, bindingId: string, details: PollDetails): Promise<LastOperation>

  /**
   * GetBinding returns a binding with its credentials.
   *   GET /v2/service_instances/{instance_id}/service_bindings/{binding_id}
   */
  getBinding(instanceId: string, bindingId: string, details: FetchBindingDetails): Promise<FetchedBindingSpec>
}

// ---------------------------------------------------------------------------------------------
// Error catalogue: each error carries its HTTP status, its OSB `error` key (when the spec names one)
// and a stable `code` that tests and logs rely on. The HTTP adapter turns them into OSB bodies.

export interface BrokerErrorOptions {
  cause?: unknown
  /** Only for failed update/deprovision (OSB A11). */
  instanceUsable?: boolean
  /** Only for failed update (OSB A11). */
  updateRepeatable?: boolean
  /** For 503: seconds the platform should wait before retrying (sent as Retry-After). */
  retryAfterSeconds?: number
}

export class BrokerError extends Error {
  readonly code: string = 'OSB_INTERNAL'
  readonly statusCode: number = 500
  /** OSB `error` key; absent when the spec names none for this condition. */
  readonly osbError: string | undefined = undefined
  /** The spec's body for this status is `{}` (410 Gone on DELETE). */
  readonly emptyBody: boolean = false
  readonly instanceUsable: boolean | undefined
  readonly updateRepeatable: boolean | undefined
  readonly retryAfterSeconds: number | undefined

  constructor (description: string, options: BrokerErrorOptions = {}) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.instanceUsable = options.instanceUsable
    this.updateRepeatable = options.updateRepeatable
    this.retryAfterSeconds = options.retryAfterSeconds
  }
}

/** 400: malformed request, unknown service or plan, invalid parameters. */
export class BadRequestError extends BrokerError {
  override readonly code = 'OSB_BAD_REQUEST'
  override readonly statusCode = 400
}

/** 409: the id exists (or is being created) with different attributes. */
export class InstanceConflictError extends BrokerError {
  override readonly code = 'OSB_INSTANCE_CONFLICT'
  override readonly statusCode = 409
}

export class BindingConflictError extends BrokerError {
  override readonly code = 'OSB_BINDING_CONFLICT'
  override readonly statusCode = 409
}

/** 404: unknown instance on fetch, poll or bind; also an instance still being provisioned on fetch. */
export class InstanceNotFoundError extends BrokerError {
  override readonly code = 'OSB_INSTANCE_NOT_FOUND'
  override readonly statusCode = 404
}

export class BindingNotFoundError extends BrokerError {
  override readonly code = 'OSB_BINDING_NOT_FOUND'
  override readonly statusCode = 404
}

/** 410 `{}`: DELETE of an instance that does not exist (or is already deleted). */
export class InstanceGoneError extends BrokerError {
  override readonly code = 'OSB_INSTANCE_GONE'
  override readonly statusCode = 410
  override readonly emptyBody = true
}

export class BindingGoneError extends BrokerError {
  override readonly code = 'OSB_BINDING_GONE'
  override readonly statusCode = 410
  override readonly emptyBody = true
}

/** 422 AsyncRequired: this plan works only asynchronously and accepts_incomplete=true is missing. */
export class AsyncRequiredError extends BrokerError {
  override readonly code = 'OSB_ASYNC_REQUIRED'
  override readonly statusCode = 422
  override readonly osbError = 'AsyncRequired'
}

/** 422 ConcurrencyError: another operation on the same resource is in progress. */
export class ConcurrencyError extends BrokerError {
  override readonly code = 'OSB_CONCURRENCY'
  override readonly statusCode = 422
  override readonly osbError = 'ConcurrencyError'
}

/** 422 MaintenanceInfoConflict: maintenance_info.version differs from the catalog's. */
export class MaintenanceInfoConflictError extends BrokerError {
  override readonly code = 'OSB_MAINTENANCE_INFO_CONFLICT'
  override readonly statusCode = 422
  override readonly osbError = 'MaintenanceInfoConflict'
}

/** 422 without a spec key: a well-formed request for a change this plan does not support. */
export class UnprocessableError extends BrokerError {
  override readonly code = 'OSB_UNPROCESSABLE'
  override readonly statusCode = 422
}

/** 503 with Retry-After: a dependency (Atlas, storage) failed or is unreachable; nothing was changed. */
export class ServiceUnavailableError extends BrokerError {
  override readonly code = 'OSB_SERVICE_UNAVAILABLE'
  override readonly statusCode = 503
}

/** 502: Atlas refused the request for a reason the broker did not expect. */
export class UpstreamError extends BrokerError {
  override readonly code = 'OSB_UPSTREAM'
  override readonly statusCode = 502
}

/**
 * 500: the broker cannot reach Atlas as configured (credentials refused, a missing role, its address not on the
 * API key's access list). Retrying cannot help until an operator acts; the log says what to change.
 */
export class BrokerMisconfiguredError extends BrokerError {
  override readonly code = 'OSB_MISCONFIGURED'
  override readonly statusCode = 500
}

/** 500: a broker bug or an unexpected state. */
export class InternalError extends BrokerError {
  override readonly code = 'OSB_INTERNAL'
  override readonly statusCode = 500
}

/**
 * The OSB route table: ten thin handlers, each turning a request into the broker's details, calling the
 * ServiceBroker port, and choosing 200/201/202 from what it returns. Everything else (auth, version,
 * errors) lives in the hooks and the error handler.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type {
  JsonObject, LastOperation, MaintenanceInfo, RequestMeta, ServiceBroker
} from '../../ports/service-broker.js'
import {
  AsyncQuery, BindBody, BindingParams, BindResponse, CatalogBody, DeleteQuery, EmptyBody, ErrorBody, FetchBindingResponse,
  FetchInstanceResponse, FetchQuery, InstanceParams, LastOperationResponse, OperationResponse, PollQuery, ProvisionBody,
  ProvisionResponse, UpdateBody, UpdateResponse
} from './schemas.js'

export interface OsbRoutesOptions {
  broker: ServiceBroker
  /** The catalog's answer (`catalogBytes`), encoded once for the route and the fast lane alike. */
  catalog: Buffer
}

const INSTANCE = '/v2/service_instances/:instance_id'
const BINDING = `${INSTANCE}/service_bindings/:binding_id`

const errors = { '4xx': ErrorBody, '5xx': ErrorBody }

function meta (request: FastifyRequest): RequestMeta {
  return request.osbMeta ?? {}
}

/** Checklist Z4: `maintenance_info: {}` (no version) counts as absent. */
function maintenanceInfo (value: { version?: string, description?: string } | undefined): MaintenanceInfo | undefined {
  if (value?.version === undefined) return undefined
  return { version: value.version, ...(value.description === undefined ? {} : { description: value.description }) }
}

/** Checklist Z4: `bind_resource: {}` counts as absent. */
function nonEmpty (value: JsonObject | undefined): JsonObject | undefined {
  return value === undefined || Object.keys(value).length === 0 ? undefined : value
}

function sendLastOperation (reply: FastifyReply, operation: LastOperation): JsonObject {
  if (operation.retryAfterSeconds !== undefined) void reply.header('Retry-After', String(operation.retryAfterSeconds))
  return {
    state: operation.state,
    ...(operation.description === undefined ? {} : { description: operation.description }),
    ...(operation.instanceUsable === undefined ? {} : { instance_usable: operation.instanceUsable }),
    ...(operation.updateRepeatable === undefined ? {} : { update_repeatable: operation.updateRepeatable })
  }
}

/**
 * The catalog's answer. It does not change while the broker runs: serialised and encoded once, and sent as a
 * Buffer as is (no serialiser, no per-request UTF-8 length scan or encoding of a ~10 kB string).
 */
export function catalogBytes (broker: ServiceBroker): Buffer {
  return Buffer.from(JSON.stringify(broker.catalog()), 'utf8')
}

export const osbRoutes: FastifyPluginAsyncTypebox<OsbRoutesOptions> = async (app, { broker, catalog }) => {
  // Synchronous: nothing to await, so no promise and no extra microtask per request.
  app.get('/v2/catalog', { schema: { response: { 200: CatalogBody, ...errors } } }, (_request, reply) => {
    void reply.header('content-type', 'application/json; charset=utf-8').send(catalog as never)
  })

  app.put(INSTANCE, {
    schema: { params: InstanceParams, querystring: AsyncQuery, body: ProvisionBody, response: { 200: ProvisionResponse, 201: ProvisionResponse, 202: ProvisionResponse, ...errors } }
  }, async (request, reply) => {
    const { body } = request
    const mi = maintenanceInfo(body.maintenance_info)
    const spec = await broker.provision(request.params.instance_id, {
      serviceId: body.service_id,
      planId: body.plan_id,
      organizationGuid: body.organization_guid,
      spaceGuid: body.space_guid,
      ...(body.context === undefined ? {} : { context: body.context }),
      ...(body.parameters === undefined ? {} : { parameters: body.parameters }),
      ...(mi === undefined ? {} : { maintenanceInfo: mi })
    }, request.query.accepts_incomplete === 'true', meta(request))
    void reply.code(spec.isAsync ? 202 : spec.alreadyExists ? 200 : 201)
    return {
      ...(spec.dashboardUrl === undefined ? {} : { dashboard_url: spec.dashboardUrl }),
      ...(spec.operation === undefined ? {} : { operation: spec.operation }),
      ...(spec.metadata === undefined ? {} : { metadata: spec.metadata })
    }
  })

  app.patch(INSTANCE, {
    schema: { params: InstanceParams, querystring: AsyncQuery, body: UpdateBody, response: { 200: UpdateResponse, 202: UpdateResponse, ...errors } }
  }, async (request, reply) => {
    const { body } = request
    const mi = maintenanceInfo(body.maintenance_info)
    const previous = body.previous_values
    const previousMi = maintenanceInfo(previous?.maintenance_info)
    const spec = await broker.update(request.params.instance_id, {
      serviceId: body.service_id,
      ...(body.plan_id === undefined ? {} : { planId: body.plan_id }),
      ...(body.parameters === undefined ? {} : { parameters: body.parameters }),
      ...(body.context === undefined ? {} : { context: body.context }),
      ...(mi === undefined ? {} : { maintenanceInfo: mi }),
      ...(previous === undefined
        ? {}
        : {
            previousValues: {
              ...(previous.plan_id === undefined ? {} : { planId: previous.plan_id }),
              ...(previous.service_id === undefined ? {} : { serviceId: previous.service_id }),
              ...(previousMi === undefined ? {} : { maintenanceInfo: previousMi })
            }
          })
    }, request.query.accepts_incomplete === 'true', meta(request))
    void reply.code(spec.isAsync ? 202 : 200)
    return {
      ...(spec.dashboardUrl === undefined ? {} : { dashboard_url: spec.dashboardUrl }),
      ...(spec.operation === undefined ? {} : { operation: spec.operation })
    }
  })

  app.delete(INSTANCE, {
    schema: { params: InstanceParams, querystring: DeleteQuery, response: { 200: EmptyBody, 202: OperationResponse, ...errors } }
  }, async (request, reply) => {
    const { query } = request
    const spec = await broker.deprovision(request.params.instance_id, { serviceId: query.service_id, planId: query.plan_id },
      query.accepts_incomplete === 'true', meta(request))
    void reply.code(spec.isAsync ? 202 : 200)
    return spec.operation === undefined ? {} : { operation: spec.operation }
  })

  app.get(`${INSTANCE}/last_operation`, {
    schema: { params: InstanceParams, querystring: PollQuery, response: { 200: LastOperationResponse, ...errors } }
  }, async (request, reply) => {
    const { query } = request
    const operation = await broker.lastOperation(request.params.instance_id, {
      ...(query.service_id ? { serviceId: query.service_id } : {}),
      ...(query.plan_id ? { planId: query.plan_id } : {}),
      ...(query.operation ? { operation: query.operation } : {})
    })
    return sendLastOperation(reply, operation)
  })

  app.get(INSTANCE, {
    schema: { params: InstanceParams, querystring: FetchQuery, response: { 200: FetchInstanceResponse, ...errors } }
  }, async (request) => {
    const { query } = request
    const spec = await broker.getInstance(request.params.instance_id, {
      ...(query.service_id ? { serviceId: query.service_id } : {}),
      ...(query.plan_id ? { planId: query.plan_id } : {})
    })
    return {
      service_id: spec.serviceId,
      plan_id: spec.planId,
      ...(spec.dashboardUrl === undefined ? {} : { dashboard_url: spec.dashboardUrl }),
      ...(spec.parameters === undefined ? {} : { parameters: spec.parameters }),
      ...(spec.maintenanceInfo === undefined ? {} : { maintenance_info: spec.maintenanceInfo }),
      ...(spec.metadata === undefined ? {} : { metadata: spec.metadata })
    }
  })

  app.put(BINDING, {
    schema: { params: BindingParams, querystring: AsyncQuery, body: BindBody, response: { 200: BindResponse, 201: BindResponse, 202: BindResponse, ...errors } }
  }, async (request, reply) => {
    const { body, params } = request
    const bindResource = nonEmpty(body.bind_resource)
    const appGuid = body.app_guid ?? (typeof bindResource?.app_guid === 'string' ? bindResource.app_guid : undefined)
    const spec = await broker.bind(params.instance_id, params.binding_id, {
      serviceId: body.service_id,
      planId: body.plan_id,
      ...(appGuid === undefined || appGuid === '' ? {} : { appGuid }),
      ...(bindResource === undefined ? {} : { bindResource }),
      ...(body.context === undefined ? {} : { context: body.context }),
      ...(body.parameters === undefined ? {} : { parameters: body.parameters }),
      ...(body.predecessor_binding_id === undefined ? {} : { predecessorBindingId: body.predecessor_binding_id })
    }, request.query.accepts_incomplete === 'true', meta(request))
    void reply.code(spec.isAsync ? 202 : spec.alreadyExists ? 200 : 201)
    if (spec.isAsync) return spec.operation === undefined ? {} : { operation: spec.operation }
    return {
      ...(spec.credentials === undefined ? {} : { credentials: spec.credentials }),
      ...(spec.endpoints === undefined ? {} : { endpoints: spec.endpoints }),
      ...(spec.metadata === undefined ? {} : { metadata: spec.metadata })
    }
  })

  app.delete(BINDING, {
    schema: { params: BindingParams, querystring: DeleteQuery, response: { 200: EmptyBody, 202: OperationResponse, ...errors } }
  }, async (request, reply) => {
    const { query, params } = request
    const spec = await broker.unbind(params.instance_id, params.binding_id, { serviceId: query.service_id, planId: query.plan_id },
      query.accepts_incomplete === 'true', meta(request))
    void reply.code(spec.isAsync ? 202 : 200)
    return spec.operation === undefined ? {} : { operation: spec.operation }
  })

  app.get(`${BINDING}/last_operation`, {
    schema: { params: BindingParams, querystring: PollQuery, response: { 200: LastOperationResponse, ...errors } }
  }, async (request, reply) => {
    const { query, params } = request
    const operation = await broker.lastBindingOperation(params.instance_id, params.binding_id, {
      ...(query.service_id ? { serviceId: query.service_id } : {}),
      ...(query.plan_id ? { planId: query.plan_id } : {}),
      ...(query.operation ? { operation: query.operation } : {})
    })
    return sendLastOperation(reply, operation)
  })

  app.get(BINDING, {
    schema: { params: BindingParams, querystring: FetchQuery, response: { 200: FetchBindingResponse, ...errors } }
  }, async (request) => {
    const { query, params } = request
    const spec = await broker.getBinding(params.instance_id, params.binding_id, {
      ...(query.service_id ? { serviceId: query.service_id } : {}),
      ...(query.plan_id ? { planId: query.plan_id } : {})
    })
    return {
      ...(spec.credentials === undefined ? {} : { credentials: spec.credentials }),
      ...(spec.endpoints === undefined ? {} : { endpoints: spec.endpoints }),
      ...(spec.parameters === undefined ? {} : { parameters: spec.parameters }),
      ...(spec.metadata === undefined ? {} : { metadata: spec.metadata })
    }
  })
}

/**
 * TypeBox schemas of the OSB requests and responses. Request schemas reject what the spec calls malformed
 * (missing or empty ids, wrong types) and leave free-form objects (`parameters`, `context`, ...) open;
 * unknown fields are allowed everywhere (OSB A7). Response schemas make serialisation fast and keep
 * undeclared fields from leaking out.
 */
import { type Static, Type } from 'typebox'

const NonEmpty = Type.String({ minLength: 1 })
/** A free-form JSON object (parameters, context, credentials): kept whole, never stripped. */
const OpenObject = Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true })
const BoolString = Type.Union([Type.Literal('true'), Type.Literal('false')])

export const MaintenanceInfoSchema = Type.Object({
  version: Type.Optional(Type.String()),
  description: Type.Optional(Type.String())
}, { additionalProperties: true })

export const InstanceParams = Type.Object({ instance_id: Type.String({ minLength: 1 }) })
export const BindingParams = Type.Object({ instance_id: Type.String({ minLength: 1 }), binding_id: Type.String({ minLength: 1 }) })

export const AsyncQuery = Type.Object({ accepts_incomplete: Type.Optional(BoolString) }, { additionalProperties: true })
export const DeleteQuery = Type.Object({
  service_id: NonEmpty,
  plan_id: NonEmpty,
  accepts_incomplete: Type.Optional(BoolString)
}, { additionalProperties: true })
export const PollQuery = Type.Object({
  service_id: Type.Optional(Type.String()),
  plan_id: Type.Optional(Type.String()),
  operation: Type.Optional(Type.String())
}, { additionalProperties: true })
export const FetchQuery = Type.Object({
  service_id: Type.Optional(Type.String()),
  plan_id: Type.Optional(Type.String())
}, { additionalProperties: true })

export const ProvisionBody = Type.Object({
  service_id: NonEmpty,
  plan_id: NonEmpty,
  organization_guid: NonEmpty,
  space_guid: NonEmpty,
  context: Type.Optional(OpenObject),
  parameters: Type.Optional(OpenObject),
  maintenance_info: Type.Optional(MaintenanceInfoSchema)
}, { additionalProperties: true })
export type ProvisionBody = Static<typeof ProvisionBody>

export const UpdateBody = Type.Object({
  service_id: NonEmpty,
  plan_id: Type.Optional(NonEmpty),
  context: Type.Optional(OpenObject),
  parameters: Type.Optional(OpenObject),
  maintenance_info: Type.Optional(MaintenanceInfoSchema),
  previous_values: Type.Optional(Type.Object({
    plan_id: Type.Optional(Type.String()),
    service_id: Type.Optional(Type.String()),
    organization_id: Type.Optional(Type.String()),
    space_id: Type.Optional(Type.String()),
    maintenance_info: Type.Optional(MaintenanceInfoSchema)
  }, { additionalProperties: true }))
}, { additionalProperties: true })
export type UpdateBody = Static<typeof UpdateBody>

export const BindBody = Type.Object({
  service_id: NonEmpty,
  plan_id: NonEmpty,
  app_guid: Type.Optional(Type.String()),
  bind_resource: Type.Optional(OpenObject),
  context: Type.Optional(OpenObject),
  parameters: Type.Optional(OpenObject),
  predecessor_binding_id: Type.Optional(NonEmpty)
}, { additionalProperties: true })
export type BindBody = Static<typeof BindBody>

// ---- responses

export const ErrorBody = Type.Object({
  error: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  instance_usable: Type.Optional(Type.Boolean()),
  update_repeatable: Type.Optional(Type.Boolean())
})

export const EmptyBody = Type.Object({})

export const CatalogBody = Type.Object({ services: Type.Array(OpenObject) })

const InstanceMetadata = Type.Object({ labels: Type.Optional(OpenObject), attributes: Type.Optional(OpenObject) })

export const ProvisionResponse = Type.Object({
  dashboard_url: Type.Optional(Type.String()),
  operation: Type.Optional(Type.String()),
  metadata: Type.Optional(InstanceMetadata)
})

export const UpdateResponse = ProvisionResponse

export const OperationResponse = Type.Object({ operation: Type.Optional(Type.String()) })

export const LastOperationResponse = Type.Object({
  state: Type.Union([Type.Literal('in progress'), Type.Literal('succeeded'), Type.Literal('failed')]),
  description: Type.Optional(Type.String()),
  instance_usable: Type.Optional(Type.Boolean()),
  update_repeatable: Type.Optional(Type.Boolean())
})

export const FetchInstanceResponse = Type.Object({
  service_id: Type.String(),
  plan_id: Type.String(),
  dashboard_url: Type.Optional(Type.String()),
  parameters: Type.Optional(OpenObject),
  maintenance_info: Type.Optional(MaintenanceInfoSchema),
  metadata: Type.Optional(InstanceMetadata)
})

const EndpointSchema = Type.Object({
  host: Type.String(),
  ports: Type.Array(Type.String()),
  protocol: Type.Optional(Type.Union([Type.Literal('tcp'), Type.Literal('udp'), Type.Literal('all')]))
})

const BindingMetadata = Type.Object({ expires_at: Type.Optional(Type.String()), renew_before: Type.Optional(Type.String()) })

export const BindResponse = Type.Object({
  credentials: Type.Optional(OpenObject),
  endpoints: Type.Optional(Type.Array(EndpointSchema)),
  metadata: Type.Optional(BindingMetadata),
  operation: Type.Optional(Type.String())
})

export const FetchBindingResponse = Type.Object({
  credentials: Type.Optional(OpenObject),
  endpoints: Type.Optional(Type.Array(EndpointSchema)),
  parameters: Type.Optional(OpenObject),
  metadata: Type.Optional(BindingMetadata)
})

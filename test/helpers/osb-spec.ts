/**
 * Validates broker responses against the OSB v2.17 spec (the vendored swagger.yaml in spec/osb, Apache-2.0):
 * finds the operation by method and route template, then the response schema for the status (or `default`).
 */
import { readFileSync } from 'node:fs'
import { Ajv, type ValidateFunction } from 'ajv'
import { parse } from 'yaml'

interface Swagger {
  paths: Record<string, Record<string, { responses: Record<string, { $ref?: string, schema?: unknown }> }>>
  responses: Record<string, { schema?: unknown }>
  definitions: Record<string, unknown>
}

const spec = parse(readFileSync(new URL('../../spec/osb/swagger.yaml', import.meta.url), 'utf8')) as Swagger
const ajv = new Ajv({ strict: false, allErrors: true })
ajv.addSchema({ $id: 'osb.json', definitions: spec.definitions })
const cache = new Map<string, ValidateFunction>()

function rewrite (schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/definitions/', '"osb.json#/definitions/'))
}

/** Route templates as in the spec, e.g. '/v2/service_instances/{instance_id}'. */
export type OsbRoute =
  | '/v2/catalog'
  | '/v2/service_instances/{instance_id}'
  | '/v2/service_instances/{instance_id}/last_operation'
  | '/v2/service_instances/{instance_id}/service_bindings/{binding_id}'
  | '/v2/service_instances/{instance_id}/service_bindings/{binding_id}/last_operation'

/** Returns the list of problems (empty when the body matches the spec's schema for that response). */
export function osbProblems (method: string, route: OsbRoute, status: number, body: unknown): string[] {
  const operation = spec.paths[route]?.[method.toLowerCase()]
  if (operation === undefined) return [`the spec has no ${method} ${route}`]
  const response = operation.responses[String(status)] ?? operation.responses.default
  if (response === undefined) return [`the spec has no ${status} response for ${method} ${route}`]
  const schema = response.$ref === undefined ? response.schema : spec.responses[response.$ref.replace('#/responses/', '')]?.schema
  if (schema === undefined) return []
  const key = `${method} ${route} ${status}`
  let check = cache.get(key)
  if (check === undefined) {
    check = ajv.compile(rewrite(schema) as object)
    cache.set(key, check)
  }
  if (check(body)) return []
  return (check.errors ?? []).map(e => `${e.instancePath || '(body)'} ${e.message ?? ''}`)
}

/** Sends OSB requests through `inject` and checks every answer against the OSB spec and checklist Z7. */
import type { FastifyInstance } from 'fastify'
import { headers } from './broker.js'
import { type OsbRoute, osbProblems } from './osb-spec.js'

export interface OsbResponse {
  status: number
  body: Record<string, unknown>
  headers: Record<string, unknown>
  raw: string
}

function routeOf (path: string): OsbRoute | undefined {
  const p = path.split('?')[0] ?? ''
  if (p === '/v2/catalog') return '/v2/catalog'
  if (/^\/v2\/service_instances\/[^/]+$/.test(p)) return '/v2/service_instances/{instance_id}'
  if (/^\/v2\/service_instances\/[^/]+\/last_operation$/.test(p)) return '/v2/service_instances/{instance_id}/last_operation'
  if (/^\/v2\/service_instances\/[^/]+\/service_bindings\/[^/]+$/.test(p)) return '/v2/service_instances/{instance_id}/service_bindings/{binding_id}'
  if (/^\/v2\/service_instances\/[^/]+\/service_bindings\/[^/]+\/last_operation$/.test(p)) {
    return '/v2/service_instances/{instance_id}/service_bindings/{binding_id}/last_operation'
  }
  return undefined
}

export interface Assert {
  fail: (message: string) => void
}

export async function osb (
  app: FastifyInstance, t: Assert, method: 'GET' | 'PUT' | 'PATCH' | 'DELETE', url: string,
  options: { body?: unknown, rawBody?: string, headers?: Record<string, string | undefined> } = {}
): Promise<OsbResponse> {
  const all: Record<string, string> = {}
  for (const [k, v] of Object.entries({ ...headers(), ...options.headers })) if (v !== undefined) all[k] = v
  const response = await app.inject({
    method,
    url,
    headers: all,
    ...(options.rawBody !== undefined ? { payload: options.rawBody } : options.body === undefined ? {} : { payload: JSON.stringify(options.body) })
  })
  const contentType = String(response.headers['content-type'] ?? '')
  if (!contentType.startsWith('application/json')) t.fail(`${method} ${url} ${response.statusCode}: content-type is '${contentType}', not JSON`)
  let body: Record<string, unknown> = {}
  try {
    body = JSON.parse(response.body) as Record<string, unknown>
  } catch {
    t.fail(`${method} ${url} ${response.statusCode}: body is not JSON: ${response.body.slice(0, 200)}`)
  }
  const route = routeOf(url)
  if (route !== undefined && response.statusCode !== 404) {
    for (const problem of osbProblems(method, route, response.statusCode, body)) {
      t.fail(`${method} ${url} ${response.statusCode} does not match the OSB spec: ${problem}`)
    }
  }
  if (response.statusCode >= 400 && response.statusCode !== 410) {
    if (typeof body.description !== 'string' || body.description === '') t.fail(`${method} ${url} ${response.statusCode}: error without description`)
  }
  return { status: response.statusCode, body, headers: response.headers, raw: response.body }
}

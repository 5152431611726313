/**
 * One access-log line per request, written when the answer has gone out (Fastify's own two lines per request
 * are turned off): method, route, status, duration, the request id (the platform's
 * X-Broker-API-Request-Identity when it sent one), the originating identity's user, and the instance and
 * binding ids. OSB calls log at info; the catalog, probes and metrics, which platforms poll, at debug.
 * Routes whose line the log level would drop get no hook at all: the catalog path stays as cheap as it was.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify'

const QUIET_ROUTES = new Set(['/v2/catalog', '/healthz', '/readyz', '/metrics'])

/** The user an originating identity names: Cloud Foundry's `user_id`, Kubernetes's `username`. */
function userOf (request: FastifyRequest): string | undefined {
  const value = request.osbMeta?.originatingIdentity?.value
  const user = value?.user_id ?? value?.username
  return typeof user === 'string' ? user : undefined
}

function line (request: FastifyRequest, reply: FastifyReply, route: string): Record<string, unknown> {
  const params = request.params as { instance_id?: string, binding_id?: string } | undefined
  const user = userOf(request)
  return {
    method: request.method,
    route,
    status: reply.statusCode,
    ms: Math.round(reply.elapsedTime * 10) / 10,
    ...(user === undefined ? {} : { user }),
    ...(params?.instance_id === undefined ? {} : { instanceId: params.instance_id }),
    ...(params?.binding_id === undefined ? {} : { bindingId: params.binding_id })
  }
}

function accessLevel (url: string): 'debug' | 'info' {
  return QUIET_ROUTES.has(url) ? 'debug' : 'info'
}

/** Whether requests to the route `url` get an access-log line at the app's log level. */
export function accessLineWritten (app: FastifyInstance, url: string): boolean {
  return (app.log as unknown as { isLevelEnabled: (level: string) => boolean }).isLevelEnabled(accessLevel(url))
}

/** Call before the routes are registered: each route gets its own hook, with its level fixed (404s are logged by the not-found handler). */
export function registerAccessLog (app: FastifyInstance): void {
  app.addHook('onRoute', route => {
    if (!accessLineWritten(app, route.url)) return
    const level = accessLevel(route.url)
    const hook: onResponseHookHandler = (request, reply, done) => {
      request.log[level](line(request, reply, route.url), 'request')
      done()
    }
    const existing = route.onResponse
    route.onResponse = existing === undefined ? [hook] : Array.isArray(existing) ? [...existing, hook] : [existing, hook]
  })
}

/**
 * One access-log line per request, written when the answer has gone out (Fastify's own two lines per request
 * are turned off): method, route, status, duration, the request id (the platform's
 * X-Broker-API-Request-Identity when it sent one), the originating identity's user, and the instance and
 * binding ids. OSB calls log at info; the catalog, probes and metrics, which platforms poll, at debug.
 */
import { type FastifyInstance, type FastifyRequest } from 'fastify'

const QUIET_ROUTES = new Set(['/v2/catalog', '/healthz', '/readyz', '/metrics'])

/** The user an originating identity names: Cloud Foundry's `user_id`, Kubernetes's `username`. */
function userOf (request: FastifyRequest): string | undefined {
  const value = request.osbMeta?.originatingIdentity?.value
  const user = value?.user_id ?? value?.username
  return typeof user === 'string' ? user : undefined
}

export function registerAccessLog (app: FastifyInstance): void {
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url
    const level = route !== undefined && QUIET_ROUTES.has(route) ? 'debug' : 'info'
    if (!(request.log as unknown as { isLevelEnabled: (level: string) => boolean }).isLevelEnabled(level)) { done(); return }
    const params = request.params as { instance_id?: string, binding_id?: string } | undefined
    const user = userOf(request)
    request.log[level]({
      method: request.method,
      route: route ?? request.url.split('?')[0],
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      ...(user === undefined ? {} : { user }),
      ...(params?.instance_id === undefined ? {} : { instanceId: params.instance_id }),
      ...(params?.binding_id === undefined ? {} : { bindingId: params.binding_id })
    }, 'request')
    done()
  })
}

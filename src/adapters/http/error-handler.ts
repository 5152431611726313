/**
 * The one place where errors become HTTP responses: BrokerErrors carry their status and OSB `error` key;
 * validation and parsing failures are 400; anything unexpected is a 500 with a generic description (the
 * details go to the log, never to the client). Every body is JSON (checklist Z7).
 */
import { type FastifyError, type FastifyInstance } from 'fastify'
import { BrokerError } from '../../ports/service-broker.js'

interface OsbErrorBody {
  error?: string
  description?: string
  instance_usable?: boolean
  update_repeatable?: boolean
}

export function registerErrorHandling (app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | BrokerError | Error, request, reply) => {
    let status: number
    let body: OsbErrorBody
    if (err instanceof BrokerError) {
      status = err.statusCode
      body = err.emptyBody ? {} : { description: err.message }
      if (err.osbError !== undefined && !err.emptyBody) body.error = err.osbError
      if (err.instanceUsable !== undefined) body.instance_usable = err.instanceUsable
      if (err.updateRepeatable !== undefined) body.update_repeatable = err.updateRepeatable
    } else if ('validation' in err && err.validation !== undefined) {
      status = 400
      body = { description: `malformed request: ${err.message}` }
    } else {
      const code = 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : 500
      status = code >= 400 && code < 600 ? code : 500
      body = { description: status < 500 ? err.message : 'internal broker error' }
    }
    if (status >= 500) request.log.error({ err }, 'request failed')
    else request.log.info({ status, code: 'code' in err ? err.code : undefined, reason: err.message }, 'request refused')
    void reply.code(status).type('application/json').send(body)
  })

  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).type('application/json').send({ description: `no route ${request.method} ${request.url.split('?')[0] ?? ''}` })
  })
}

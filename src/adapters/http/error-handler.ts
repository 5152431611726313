/**
 * The one place where errors become HTTP responses: BrokerErrors carry their status and OSB `error` key;
 * validation and parsing failures are 400; anything unexpected is a 500 with a generic description (the
 * details go to the log, never to the client). Every body is JSON (checklist Z7), including the answers
 * Node's HTTP parser gives before Fastify sees a request (unknown method, bad framing, headers too large).
 * 5xx descriptions end with the request id, which finds the detail in the log; 503s carry Retry-After.
 */
import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance } from 'fastify'
import { BrokerError } from '../../ports/service-broker.js'

interface OsbErrorBody {
  error?: string
  description?: string
  instance_usable?: boolean
  update_repeatable?: boolean
}

/** Retry-After of a 503 whose error names none. */
const DEFAULT_RETRY_AFTER_SECONDS = 10

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
    if (status >= 500 && body.description !== undefined) body.description = `${body.description} (request id ${request.id})`
    if (status === 503) {
      const seconds = err instanceof BrokerError ? err.retryAfterSeconds : undefined
      void reply.header('Retry-After', String(seconds ?? DEFAULT_RETRY_AFTER_SECONDS))
    }
    if (status >= 500) {
      request.log.error({ err }, 'request failed')
    } else {
      const cause = err.cause instanceof Error ? err.cause.message : undefined
      request.log.info({ status, code: 'code' in err ? err.code : undefined, reason: err.message, ...(cause === undefined ? {} : { cause }) }, 'request refused')
    }
    void reply.code(status).type('application/json').send(body)
  })

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? ''
    request.log.info({ method: request.method, route: path, status: 404 }, 'request')
    void reply.code(404).type('application/json').send({ description: `no route ${request.method} ${path}` })
  })
}

/**
 * Fastify's `clientErrorHandler`: Node's parser refused the request (an unknown method, Content-Length with
 * Transfer-Encoding, headers over the limit, ...). Answers the status Node chose, with an OSB body, and closes.
 */
export function clientErrorHandler (err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) { socket.destroy(); return }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
  const [reason, description] = CLIENT_ERRORS[status]
  const body = JSON.stringify({ description })
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}

/**
 * Status line reason and OSB description of each status `clientErrorHandler` answers. Written out rather than
 * read from node:http's STATUS_CODES: on Node 22 and later an ES import of node:http loads Node's own fetch
 * implementation, which the broker never uses (test/app/startup-modules.test.ts).
 */
const CLIENT_ERRORS = {
  400: ['Bad Request', 'malformed HTTP request (method, framing or headers)'],
  408: ['Request Timeout', 'request timed out'],
  431: ['Request Header Fields Too Large', 'request headers too large']
} as const

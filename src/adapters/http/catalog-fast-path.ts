/**
 * The catalog's fast lane. Platforms poll GET /v2/catalog, whose answer is a fixed byte string, and Fastify's
 * request pipeline (routing, hooks, reply object) costs more than the answer. A request that is exactly the
 * ordinary case — GET of `/v2/catalog` with no query, an Authorization header equal to `Basic <base64 of the
 * broker's credentials>` (compared in constant time), a 2.x X-Broker-API-Version and no originating identity —
 * is answered straight from the HTTP server's request event, with the bytes, headers and metrics Fastify's
 * route gives. Everything else (another spelling of the credentials, wrong ones, a missing header, any other
 * path, and every request once the server is closing) goes to Fastify unchanged: errors, login limiting and
 * logging stay in one place. It is installed only where the catalog's access-log line is not written (the
 * log level is above debug), so no line goes missing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { accessLineWritten } from './access-log.js'
import {
  acceptsApiVersion, API_VERSION_HEADER, type BrokerCredentials, ORIGINATING_IDENTITY_HEADER, REQUEST_IDENTITY_HEADER, SecretMatcher
} from './osb-hooks.js'

export interface CatalogFastPathOptions {
  credentials: BrokerCredentials
  /** The catalog route's answer, as it sends it. */
  catalogBytes: Buffer
  /** Records one answered request (the catalog operation's metrics), as the route's metrics hook does. */
  observe?: (status: number, seconds: number) => void
}

/** Whether the fast lane may answer: catalog requests get no access-log line at this log level. */
export function catalogFastPathApplies (app: FastifyInstance): boolean {
  return !accessLineWritten(app, '/v2/catalog')
}

/**
 * Puts the fast lane in front of Fastify's handler on `app.server`. Call once the routes are registered;
 * the lane closes with the server (Fastify answers 503 while closing, so the lane steps aside).
 */
export function installCatalogFastPath (app: FastifyInstance, options: CatalogFastPathOptions): void {
  // The whole header is compared with `Basic <base64 of user:password>`, padded to one width, so a wrong
  // header of any length costs the same before it falls through to basic auth.
  const { username, password } = options.credentials
  const expected = new SecretMatcher(`Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`)
  // Node's cheapest way to send headers: one writeHead with a flat array, built once.
  const plain = ['content-type', 'application/json; charset=utf-8', 'content-length', String(options.catalogBytes.length)]
  let closing = false
  app.addHook('preClose', done => { closing = true; done() })

  const answer = (request: IncomingMessage, response: ServerResponse): boolean => {
    if (closing || request.method !== 'GET' || request.url !== '/v2/catalog') return false
    const headers = request.headers
    const authorization = headers.authorization
    const version = headers[API_VERSION_HEADER]
    if (typeof authorization !== 'string' || typeof version !== 'string' || !acceptsApiVersion(version)) return false
    if (headers[ORIGINATING_IDENTITY_HEADER] !== undefined || !expected.matches(authorization)) return false
    const started = performance.now()
    const identity = headers[REQUEST_IDENTITY_HEADER]
    response.writeHead(200, typeof identity === 'string' && identity !== '' ? ['X-Broker-API-Request-Identity', identity, ...plain] : plain)
    response.end(options.catalogBytes)
    options.observe?.(200, (performance.now() - started) / 1000)
    return true
  }

  const server = app.server
  const handlers = server.listeners('request') as Array<(request: IncomingMessage, response: ServerResponse) => void>
  const fastify = handlers[0]
  if (handlers.length !== 1 || fastify === undefined) return
  server.removeListener('request', fastify)
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (!answer(request, response)) fastify(request, response)
  })
}

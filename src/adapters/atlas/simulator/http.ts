/**
 * The simulator's HTTP vocabulary: Atlas's error envelope, versioned media types (negotiated per operation),
 * pagination, and small body helpers. Shapes follow recorded Atlas answers (see test/fixtures/atlas/).
 */
import type { IncomingMessage } from 'node:http'
import { UNVERIFIED } from './unverified.js'

/** An Atlas error answer: `{detail, error, errorCode, parameters, reason}` with the status and extra headers. */
export class HttpFailure extends Error {
  readonly status: number
  readonly errorCode: string
  readonly parameters: unknown[] | null
  readonly headers: Record<string, string>
  constructor (status: number, errorCode: string, detail: string, parameters: unknown[] | null = [], headers: Record<string, string> = {}) {
    super(detail)
    this.status = status
    this.errorCode = errorCode
    this.parameters = parameters
    this.headers = headers
  }
}

export const REASONS: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found', 406: 'Not Acceptable',
  409: 'Conflict', 410: 'Gone', 415: 'Unsupported Media Type', 429: 'Too Many Requests', 500: 'Internal Server Error',
  502: 'Bad Gateway', 503: 'Service Unavailable'
}

export function envelope (failure: HttpFailure): Record<string, unknown> {
  return {
    detail: failure.message,
    error: failure.status,
    errorCode: failure.errorCode,
    parameters: failure.parameters,
    reason: REASONS[failure.status] ?? 'Error'
  }
}

/** The 401 challenge body exactly as Atlas sends it: pretty-printed with " : " separators. */
export const PRETTY_401 = '{\n  "error" : 401,\n  "reason" : "Unauthorized",\n  "detail" : "You are not authorized for this resource.",\n  "errorCode" : "UNEXPECTED_ERROR"\n}'

/** Media-type versions per operation: `current` are served plainly; `deprecated` with Deprecation/Sunset headers. */
export const VERSIONS = {
  v20230101: { current: ['2023-01-01'], deprecated: {} as Record<string, string> },
  clusterRead: { current: ['2024-08-05'], deprecated: { '2023-02-01': '2027-07-01', '2023-01-01': '2027-07-01' } as Record<string, string> },
  clusterWrite: { current: ['2024-10-23'], deprecated: { '2024-08-05': '2027-03-01', '2023-02-01': '2027-07-01', '2023-01-01': '2027-07-01' } as Record<string, string> },
  clusterDelete: { current: ['2023-02-01'], deprecated: { '2023-01-01': '2027-07-01' } as Record<string, string> },
  flex: { current: ['2024-11-13'], deprecated: {} as Record<string, string> }
} as const

export type VersionSet = (typeof VERSIONS)[keyof typeof VERSIONS]
export interface Negotiated { version: string, headers: Record<string, string> }
/** An answer; `text` is sent as is instead of the JSON of `body` (a certificate's PEM). */
export interface Routed extends Negotiated { status: number, body: unknown, text?: string }

/**
 * Checks `Accept` (and `Content-Type` when there is a body) against the operation's versions. An unknown or
 * missing version is `406 INVALID_VERSION_DATE` (as recorded); a deprecated one is served with Deprecation and
 * Sunset headers (as recorded).
 */
export function negotiate (req: IncomingMessage, set: VersionSet, hasBody: boolean): Negotiated {
  const accept = req.headers.accept ?? ''
  const match = /application\/vnd\.atlas\.(\d{4}-\d{2}-\d{2}|preview)\+json/.exec(accept)
  const version = match?.[1]
  const deprecated = (set.deprecated as Record<string, string>)[version ?? '']
  if (version === undefined || (!(set.current as readonly string[]).includes(version) && deprecated === undefined)) {
    throw new HttpFailure(406, 'INVALID_VERSION_DATE', 'Invalid accept header or version date.', [])
  }
  if (hasBody) {
    const contentType = req.headers['content-type'] ?? ''
    if (!contentType.startsWith(`application/vnd.atlas.${version}+json`)) {
      throw new HttpFailure(415, UNVERIFIED.invalidMediaType.code, `Content-Type must be application/vnd.atlas.${version}+json.`, [contentType])
    }
  }
  const headers: Record<string, string> = {}
  if (deprecated !== undefined) {
    headers.Deprecation = 'Mon, 5 Aug 2024 00:00:00 GMT'
    headers.Sunset = new Date(`${deprecated}T00:00:00Z`).toUTCString()
  }
  return { version, headers }
}

const PAGE = { defaultItems: 100, maxItems: 500 }

/** One page of `all`, with Atlas's links and (unless includeCount=false) totalCount; `view` shapes only that page's items. */
export function page<T> (url: URL, all: T[], linkBase: string, view: (item: T) => unknown = item => item): Record<string, unknown> {
  const pageNum = intParam(url, 'pageNum', 1, 1, Number.MAX_SAFE_INTEGER)
  const itemsPerPage = intParam(url, 'itemsPerPage', PAGE.defaultItems, 1, PAGE.maxItems)
  const includeCount = url.searchParams.get('includeCount') !== 'false'
  const start = (pageNum - 1) * itemsPerPage
  const results = all.slice(start, start + itemsPerPage).map(view)
  const link = (n: number, rel: string): { href: string, rel: string } => ({
    href: `${linkBase}${url.pathname}?includeCount=${String(includeCount)}&pageNum=${n}&itemsPerPage=${itemsPerPage}`, rel
  })
  const links = [link(pageNum, 'self')]
  if (pageNum > 1) links.push(link(pageNum - 1, 'previous'))
  if (start + itemsPerPage < all.length) links.push(link(pageNum + 1, 'next'))
  return { links, results, ...(includeCount ? { totalCount: all.length } : {}) }
}

function intParam (url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name)
  if (raw === null) return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HttpFailure(400, 'INVALID_QUERY_PARAMETER', `Invalid query parameter ${name} specified.`, [name])
  }
  return value
}

export function notFound (path: string): HttpFailure {
  return new HttpFailure(404, 'RESOURCE_NOT_FOUND', `Cannot find resource ${path}.`, [path])
}

export function invalidAttribute (name: string): HttpFailure {
  return new HttpFailure(400, 'INVALID_ATTRIBUTE', `Invalid attribute ${name} specified.`, [name])
}

export function asObject (value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : {}
}

export function asArray (value: unknown): unknown[] {
  return Array.isArray(value) ? value : []
}

/** One request as a resource module sees it: the segments after the resource, and version negotiation. */
export interface RouteContext {
  method: string
  url: URL
  body: unknown
  rest: string[]
  /** Negotiates the operation's media type before any work, so an unacceptable version changes nothing. */
  accept: (set: VersionSet) => Negotiated
  ok: (status: number, payload: unknown, negotiated: Negotiated) => Routed
}

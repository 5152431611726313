/**
 * A decoder as strict as the Kubernetes Service Catalog's OSB client (sigs.k8s.io/go-open-service-broker-client
 * v2, decoding with Go's encoding/json): a known field of the wrong JSON type fails the whole answer. Its
 * `Endpoint.Ports` is `[]uint16`, so the OSB spec's string ports ("27017") cannot be decoded there.
 */
type Kind = 'string' | 'bool' | 'object' | 'uint16[]' | 'endpoint[]'

const BIND_RESPONSE: Record<string, Kind> = {
  credentials: 'object', syslog_drain_url: 'string', route_service_url: 'string', operation: 'string', endpoints: 'endpoint[]'
}
const ENDPOINT: Record<string, Kind> = { host: 'string', ports: 'uint16[]', protocol: 'string' }

function check (value: unknown, kind: Kind, field: string): void {
  const fail = (): never => { throw new Error(`json: cannot unmarshal ${typeof value} into Go struct field ${field} of type ${kind}`) }
  if (value === null) return
  switch (kind) {
    case 'string': if (typeof value !== 'string') fail(); return
    case 'bool': if (typeof value !== 'boolean') fail(); return
    case 'object': if (typeof value !== 'object' || Array.isArray(value)) fail(); return
    case 'uint16[]':
      if (!Array.isArray(value)) fail()
      for (const port of value as unknown[]) if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) check(port, 'bool', `${field} (uint16)`)
      return
    case 'endpoint[]':
      if (!Array.isArray(value)) fail()
      for (const endpoint of value as unknown[]) decodeStruct(endpoint, ENDPOINT, 'Endpoint')
  }
}

function decodeStruct (value: unknown, fields: Record<string, Kind>, name: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`json: cannot unmarshal into Go value of type ${name}`)
  for (const [key, kind] of Object.entries(fields)) {
    if (key in value) check((value as Record<string, unknown>)[key], kind, `${name}.${key}`)
  }
}

/** Throws as the Go client would; returns when it would decode. */
export function decodeBindResponse (body: unknown): void {
  decodeStruct(body, BIND_RESPONSE, 'BindResponse')
}

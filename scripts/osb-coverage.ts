/**
 * The OSB coverage table (docs/osb-coverage.md): every rule of OSB v2.17 the broker follows, and what real
 * platforms need of it, with what the broker does and the tests that prove it. The tests are found in the
 * suite itself: a test title or assertion message that starts with rule ids (`'D4/D3/D7: 201 created, ...'`)
 * covers those rules. `npm run docs:config` writes the table; a test fails when the table and the suite drift
 * apart, or when a rule has neither a test nor a reason it does not apply.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

/** Rule id → what the broker does (or, starting with "n/a:", why the rule does not apply to it). */
export const RULES: Record<string, string> = {
  A1: 'Every request carries X-Broker-API-Version; the broker checks it before anything else.',
  A2: 'An unsupported version is 412 with a message naming 2.17.',
  A3: 'A missing version header is 412 too (what platforms expect; see Z1).',
  A4: 'X-Broker-API-Originating-Identity is parsed and logged when valid, never required, tolerated when garbled.',
  A5: 'The originating identity\'s JSON is kept as sent (Cloud Foundry and Kubernetes shapes, extra fields allowed).',
  A6: 'X-Broker-API-Request-Identity is echoed on every response and is the request id in the logs.',
  A7: 'Unknown fields in bodies and contexts are ignored.',
  A8: 'Basic auth on every OSB route; a missing or wrong login is 401 before any validation.',
  A9: 'Ids may hold any characters and arrive percent-encoded; none is assumed to be a GUID.',
  A10: 'Every answer uses the status the spec names for the case.',
  A11: 'Error bodies carry description, the spec\'s error key where it names one, and instance_usable/update_repeatable only on failed updates and deprovisions.',
  A12: 'AsyncRequired, ConcurrencyError and MaintenanceInfoConflict are sent exactly so.',
  A13: 'A 4xx changes nothing; a failure half-way undoes what it did or leaves what the platform\'s DELETE finishes.',
  A14: 'A body that is not JSON is 400; a JSON body with another content type is read.',
  A15: 'Fields the broker does not know are ignored (A7).',
  B1: 'GET /v2/catalog answers 200 with the services.',
  B2: 'Service and plan ids never change (the seed\'s ids are kept).',
  B3: 'n/a: recommendations only (the catalog\'s strings are short; no ETag is offered).',
  B4: 'Names are CLI-friendly (Z10).',
  B5: 'Offerings carry name, id, description, bindable and plans; the catalog is checked at start-up.',
  B6: 'instances_retrievable, bindings_retrievable, allow_context_updates, plan_updateable and metadata are declared.',
  B7: 'Plans carry unique ids and names and descriptions; checked at start-up.',
  B8: 'Plans declare free, bindable, binding_rotatable, plan_updateable, schemas, maximum_polling_duration and maintenance_info.',
  B9: 'maintenance_info.version is SemVer 2.0; checked at start-up.',
  B10: 'Parameter schemas for instance create and update and binding create.',
  B11: 'Every parameter schema has $schema, no external $ref and is under 64 kB; checked at start-up.',
  B12: 'Conventional metadata: displayName, bullets, costs, documentation links.',
  C1: 'Synchronous success: 201 for provision and bind, 200 for update, unbind and deprovision.',
  C2: 'The shared-cluster plan is synchronous and ignores accepts_incomplete; an identical repeat is 200.',
  C3: 'Cluster plans without accepts_incomplete=true are 422 AsyncRequired.',
  C4: 'Cluster plans answer 202 with an operation.',
  C5: 'Synchronous or asynchronous per plan.',
  C6: 'A concurrent change to the same resource is 422 ConcurrencyError, never a 5xx.',
  C7: 'n/a: binds are not serialised per instance; each binding is its own claim.',
  D1: 'Provision creates the instance once per id; a tombstoned id may be provisioned again.',
  D2: 'service_id, plan_id, organization_guid and space_guid are required; context and parameters optional.',
  D3: 'An identical repeat of a finished provision is 200.',
  D4: 'A new instance is 201.',
  D5: 'An identical PUT while provisioning is 202 with the same operation.',
  D6: 'A malformed request, missing data or invalid parameters are 400 with a description naming the problem.',
  D7: 'The same id with other attributes is 409.',
  D8: 'A cluster plan without accepts_incomplete=true is 422 AsyncRequired.',
  D9: 'A maintenance_info.version other than the plan\'s is 422 MaintenanceInfoConflict.',
  D10: 'Asynchronous answers carry an operation; dashboard_url (the cluster in the Atlas UI) is in the first answer (DASHBOARD_URLS).',
  D11: 'Any other status is a failure the platform may orphan-mitigate; the broker makes those DELETEs safe (Z12).',
  D12: 'n/a: the broker sends no instance metadata.',
  E1: 'Fetch instance is served for every plan once provisioning succeeded (instances_retrievable).',
  E2: 'Fetch answers service_id, plan_id, parameters, maintenance_info and dashboard_url.',
  E3: 'An unknown instance, or one still provisioning, is 404.',
  E4: 'An instance being updated is 422 ConcurrencyError.',
  E5: 'Other answers are failures; the broker does not send them for known instances.',
  F1: 'Plan changes only between updateable plans; context updates are declared (allow_context_updates).',
  F2: 'Without plan_id the plan is kept; without parameters they are kept; context updates apply.',
  F3: 'A plan change the broker does not support is 422.',
  F4: 'An applied change, or one with no effect, is 200.',
  F5: 'An identical PATCH while the update runs is 202 with the same operation.',
  F6: 'Malformed is 400; unsupported changes 422; AsyncRequired and MaintenanceInfoConflict as the spec says.',
  F7: 'A refused update applies nothing; a failed one reports instance_usable and update_repeatable.',
  F8: 'Asynchronous update answers carry an operation.',
  G1: 'last_operation needs no query parameters (operation, service_id, plan_id are optional).',
  G2: 'last_operation answers state and description; instance_usable/update_repeatable only for failed updates and deprovisions.',
  G3: 'An unknown instance is 404.',
  G4: 'A finished delete answers succeeded from its tombstone (Z6), not 410.',
  G5: 'In-progress answers carry Retry-After.',
  G6: 'Operation states are kept after they end.',
  G7: 'A failed provision leaves what the platform\'s DELETE removes.',
  H1: 'Deprovision removes everything the instance made: every binding\'s Atlas user, and its cluster for cluster plans.',
  H2: 'service_id and plan_id are required (400).',
  H3: 'A DELETE during provisioning stops the create and deletes the cluster.',
  H4: '200 {} when deleted, 202 while deleting (also for a re-sent DELETE), 410 {} when unknown.',
  H5: 'Asynchronous deletes carry an operation; a failed one reports instance_usable.',
  I1: 'Bind only on bindable plans.',
  I2: 'service_id and plan_id are required; context, bind_resource, app_guid and parameters are kept.',
  I3: 'Credentials are returned on bind and on every fetch.',
  I4: 'One Atlas database user per binding; credentials carry every host and port (endpoints).',
  I5: '201 when created, 200 for an identical repeat with the same credentials.',
  I6: 'Malformed is 400; the same id with other attributes 409; a bind while the instance is busy 422 ConcurrencyError.',
  I7: 'Bind answers credentials and endpoints, and metadata.expires_at/renew_before for expiring credentials.',
  I8: 'expires_at and renew_before are ISO 8601 with milliseconds; renew_before is a tenth of the lifetime (1 minute to 1 hour) before expires_at.',
  I9: 'Endpoints list every host with its port as a string, protocol tcp.',
  I10: 'n/a: no volume mounts for a database.',
  I11: 'Plans are binding_rotatable: a bind naming a live binding of the instance as predecessor_binding_id gets a new user with its roles; both stay valid until each is unbound; any other predecessor is 400.',
  I12: 'n/a: no route services, log drains or volume mounts; nothing is required of the app.',
  J1: 'Fetch binding is served once the bind succeeded (bindings_retrievable).',
  J2: 'Fetch answers credentials, endpoints and parameters; an unknown binding is 404.',
  K1: 'Binding last_operation: state and description; unknown is 404.',
  K2: 'n/a: binds are synchronous, so there is one operation per binding at a time.',
  K3: 'Unbind needs service_id and plan_id (400) and revokes the binding\'s Atlas user.',
  K4: 'An unbind while the bind runs is 422 ConcurrencyError until the bind is done.',
  K5: '200 {} when unbound, 410 {} when unknown.',
  L1: 'Cluster plans declare maximum_polling_duration above Atlas\'s usual times.',
  L2: 'The platform is the source of truth; `atlas-broker sweep` finds what the broker made and no record accounts for.',
  L3: 'A DELETE after a timeout, a 5xx or a failed operation removes what was made, and may be repeated.',
  M1: 'context.platform may be any value (cloudfoundry, kubernetes, sapcp, ...); context is opaque.',
  M2: 'Cloud Foundry context fields are kept with the instance and binding.',
  M3: 'Kubernetes context fields are kept; a policy may use the namespace.',
  M4: 'Context-only updates are accepted (allow_context_updates).',
  Z1: 'A missing, empty, unparsable or non-2.x version header is 412 with a JSON body; any 2.x is accepted.',
  Z2: 'Version and auth are checked before routing, body parsing and validation.',
  Z3: 'Empty strings count as missing (400); unknown services and plans, or a plan of another service, are 400.',
  Z4: 'maintenance_info {} , bind_resource {} and previous_values with an empty maintenance_info count as absent.',
  Z5: 'last_operation does not require operation, service_id or plan_id and accepts operations it did not issue.',
  Z6: 'Deleted instances and bindings keep a tombstone: last_operation answers succeeded.',
  Z7: 'Every answer is JSON, 4xx, 410 {} and 200 {} included.',
  Z8: 'A DELETE with Content-Type application/json and an empty body is accepted.',
  Z9: 'Binds are synchronous without accepts_incomplete.',
  Z10: 'Ids are lowercase GUIDs; names CLI-friendly lowercase; plan ids unique across the catalog.',
  Z11: 'The request identity is echoed and logged.',
  Z12: 'Every answer comes well under 60 s; a DELETE of a half-made or unknown resource is safe and repeatable.'
}

/** A string literal that starts with rule ids, e.g. 'D4/D3/D7: 201 created' or 'I5: 201 (Z9: ...)'. */
const TAG = /'((?:[A-Z]\d{1,2}(?:\/[A-Z]\d{1,2})*)(?::|\s)[^'\n]*)'/g
const IDS = /\b[A-Z]\d{1,2}\b/g

/** Rule id → `file: test title` of the tests that name it. */
export function coverage (root: string): Map<string, string[]> {
  const found = new Map<string, Set<string>>()
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap(entry =>
    entry.isDirectory() ? walk(path.join(dir, entry.name)) : entry.name.endsWith('.test.ts') ? [path.join(dir, entry.name)] : [])
  for (const file of walk(path.join(root, 'test')).sort()) {
    const textOf = readFileSync(file, 'utf8')
    const relative = path.relative(root, file)
    // The test a tag stands in: the nearest t.test title above it.
    const titles = [...textOf.matchAll(/t\.test\('((?:[^'\\]|\\.)*)'/g)].map(m => ({ at: m.index, title: m[1]!.replace(/\\'/g, '\'') }))
    for (const match of textOf.matchAll(TAG)) {
      const tagged = match[1]!
      const ids = [...tagged.matchAll(IDS)].map(m => m[0]).filter(id => id in RULES)
      const title = titles.filter(t => t.at <= match.index).at(-1)?.title ?? tagged
      for (const id of ids) {
        const set = found.get(id) ?? new Set<string>()
        set.add(`${relative}: ${title}`)
        found.set(id, set)
      }
    }
  }
  return new Map([...found].map(([id, tests]) => [id, [...tests].sort()]))
}

export function coverageTable (root: string): string {
  const covered = coverage(root)
  const rows = Object.entries(RULES).map(([id, behaviour]) => {
    const tests = covered.get(id) ?? []
    return `| ${id} | ${behaviour.replaceAll('|', '\\|')} | ${tests.length === 0 ? '–' : tests.map(t => t.replaceAll('|', '\\|')).join('<br>')} |`
  })
  return [
    '# OSB coverage',
    '',
    'Every rule of the Open Service Broker API v2.17 the broker follows (A–M), and what real platforms need of it',
    '(Z: Cloud Foundry, SAP Service Manager, Kubernetes Service Catalog clients), with what the broker does and the',
    'tests that prove it (file: test). Generated from the suite by `npm run docs:config`; a test keeps it current.',
    '',
    '| rule | the broker | tests |',
    '| --- | --- | --- |',
    ...rows,
    ''
  ].join('\n')
}

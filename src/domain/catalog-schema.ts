/**
 * A JSON Schema of the catalog file (CATALOG_FILE), for editors: the OSB service and plan fields the broker
 * serves, and each plan's `atlas` block. The broker's own check (validateCatalog) stays the authority; this
 * schema is written to `schema/catalog.schema.json` by `npm run docs:config` and kept in step by a test.
 */
import { INSTANCE_SIZES, REGIONS } from './atlas-names.js'
import { AUTH_KINDS } from './binding-auth.js'
import { CONNECTION_KINDS } from './binding-connection.js'
import { CLOUD_PROVIDERS } from './catalog.js'

const unique = (lists: ReadonlyArray<readonly string[]>): string[] => [...new Set(lists.flat())].sort()

const NAME = { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$', description: 'Lowercase letters, digits and hyphens (OSB names are CLI-friendly).' }
const ID = { type: 'string', minLength: 1, description: 'Globally unique and never changed (platforms key on it); a UUID is usual.' }
const LIFETIME = { type: 'integer', minimum: 1, maximum: 168, description: 'Expiring credentials: hours until Atlas deletes a binding\'s user.' }
/** Credential settings both plan kinds take. */
const BINDING_AUTH = {
  bindingAuth: {
    type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...AUTH_KINDS] },
    description: 'How bindings may authenticate (bind parameter `auth`); the first is the default. scram: a password; aws-iam: an AWS IAM role; x509: a certificate Atlas issues; oidc: OIDC workload identity.'
  },
  certificateMonths: { type: 'integer', minimum: 1, maximum: 24, description: 'Months an X.509 certificate is valid when a bind names none (Atlas default 3).' },
  oidcIdentityProviderId: { type: 'string', pattern: '^[0-9a-f]{24}$', description: 'The Atlas id of the project\'s OIDC workload identity provider; needed for oidc.' },
  projectId: { type: 'string', pattern: '^[0-9a-f]{24}$', description: 'Another Atlas project for the plan\'s instances (absent: ATLAS_PROJECT_ID).' },
  credentials: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$', description: 'Named credentials for that project (ATLAS_CREDENTIALS_<NAME>_... or ATLAS_CREDENTIALS_FILE).' },
  connection: { enum: [...CONNECTION_KINDS], description: 'The network path of bindings\' uri unless a bind says otherwise (bind parameter `connection`): public, private (VPC peering) or privateEndpoint.' }
}
const PARAMETERS = { type: 'object', properties: { parameters: { type: 'object', required: ['$schema'], description: 'A JSON Schema (draft-04 to draft-07) of the parameters.' } } }

export function catalogFileSchema (): Record<string, unknown> {
  const atlasShared = {
    type: 'object', required: ['kind'], additionalProperties: false,
    properties: {
      kind: { const: 'shared-cluster', description: 'One database per instance on an existing cluster (synchronous).' },
      bindingLifetimeHours: LIFETIME,
      ...BINDING_AUTH
    }
  }
  const atlasCluster = {
    type: 'object', required: ['kind', 'clusterKind', 'providers', 'defaultRegion'], additionalProperties: false,
    properties: {
      kind: { const: 'dedicated-cluster', description: 'One Atlas cluster per instance (asynchronous).' },
      clusterKind: { enum: ['dedicated', 'flex'] },
      instanceSize: { enum: unique(Object.values(INSTANCE_SIZES)), description: 'The tier of dedicated clusters (it must be offered by every provider listed).' },
      providers: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...CLOUD_PROVIDERS] }, description: 'Providers users may choose; the first is the default.' },
      defaultRegion: { enum: unique(Object.values(REGIONS)), description: 'The region when users choose none (a region of the first provider).' },
      regions: { type: 'array', items: { enum: unique(Object.values(REGIONS)) }, description: 'Regions users may choose; absent: any region of the providers.' },
      defaultMongoDBMajorVersion: { type: 'string' },
      defaultBackupEnabled: { type: 'boolean' },
      defaultTerminationProtectionEnabled: { type: 'boolean' },
      bindingLifetimeHours: LIFETIME,
      ...BINDING_AUTH,
      projectPerInstance: {
        type: 'object', required: ['organizationId'], additionalProperties: false,
        description: 'Each instance gets its own Atlas project in this organisation, deleted with it; instances may set ipAccessList.',
        properties: {
          organizationId: { type: 'string', pattern: '^[0-9a-f]{24}$' },
          credentials: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$', description: 'Named credentials of an organisation key (absent: the configured ones).' }
        }
      }
    },
    if: { properties: { clusterKind: { const: 'dedicated' } } },
    then: { required: ['instanceSize'] }
  }
  const plan = {
    type: 'object', required: ['id', 'name', 'description', 'atlas'],
    properties: {
      id: ID,
      name: NAME,
      description: { type: 'string', minLength: 1 },
      free: { type: 'boolean' },
      bindable: { type: 'boolean' },
      binding_rotatable: { type: 'boolean', description: 'Bindings may be rotated: a bind naming predecessor_binding_id gets new credentials with the same roles.' },
      plan_updateable: { type: 'boolean' },
      maximum_polling_duration: { type: 'integer', minimum: 1 },
      maintenance_info: { type: 'object', required: ['version'], properties: { version: { type: 'string', description: 'SemVer 2.0' }, description: { type: 'string' } } },
      metadata: { type: 'object' },
      schemas: {
        type: 'object',
        properties: {
          service_instance: { type: 'object', properties: { create: PARAMETERS, update: PARAMETERS } },
          service_binding: { type: 'object', properties: { create: PARAMETERS } }
        }
      },
      atlas: { oneOf: [atlasShared, atlasCluster], description: 'How the broker serves the plan (never shown to platforms).' }
    }
  }
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Atlas Broker catalog (CATALOG_FILE)',
    type: 'object',
    required: ['services'],
    properties: {
      $schema: { type: 'string' },
      services: {
        type: 'array', minItems: 1,
        items: {
          type: 'object', required: ['id', 'name', 'description', 'bindable', 'plans'],
          properties: {
            id: ID,
            name: NAME,
            description: { type: 'string', minLength: 1 },
            bindable: { type: 'boolean' },
            tags: { type: 'array', items: { type: 'string' } },
            instances_retrievable: { type: 'boolean' },
            bindings_retrievable: { type: 'boolean' },
            allow_context_updates: { type: 'boolean' },
            plan_updateable: { type: 'boolean' },
            metadata: { type: 'object' },
            plans: { type: 'array', minItems: 1, items: plan }
          }
        }
      }
    }
  }
}

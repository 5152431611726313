/**
 * The built-in catalog. Its service and plan ids are python-atlasbroker's, so platforms that registered the
 * seed keep working after the upgrade (ids are the only immutable key, OSB B2).
 */
import { type BrokerCatalog } from '../domain/catalog.js'

export const SEED_SERVICE_ID = '2a04f349-4aab-4fcb-af6d-8e1749a77c13'
export const SEED_PLAN_ID = '8db474d1-3cc0-4f4d-b864-24e3bd49b874'

const SCHEMA_DRAFT = 'http://json-schema.org/draft-07/schema#'

const sharedClusterParameters = {
  $schema: SCHEMA_DRAFT,
  type: 'object',
  additionalProperties: false,
  properties: {
    cluster: {
      type: 'string',
      pattern: '^[a-zA-Z0-9][a-zA-Z0-9-]*$',
      maxLength: 64,
      description: 'Name of an existing cluster in the Atlas project (defaults to the broker\'s configured cluster).'
    },
    database: {
      type: 'string',
      minLength: 1,
      maxLength: 63,
      pattern: '^[^/\\\\. "$*<>:|?]+$',
      description: 'Database name; instances may share one. Defaults to a name derived from the instance id.'
    }
  }
}

export const defaultCatalog: BrokerCatalog = {
  services: [{
    id: SEED_SERVICE_ID,
    name: 'atlas-mongodb-cluster',
    description: 'MongoDB databases on MongoDB Atlas',
    bindable: true,
    tags: ['mongodb', 'atlas', 'database'],
    instances_retrievable: true,
    bindings_retrievable: true,
    allow_context_updates: true,
    plan_updateable: false,
    metadata: {
      displayName: 'MongoDB Atlas',
      longDescription: 'A database on a MongoDB Atlas cluster; each binding gets its own database user.',
      providerDisplayName: 'Atlas Broker',
      documentationUrl: 'https://www.mongodb.com/docs/atlas/'
    },
    plans: [{
      id: SEED_PLAN_ID,
      name: 'atlas-mongodb-existing-cluster',
      description: 'A database on an existing Atlas cluster, shared with other instances',
      free: true,
      bindable: true,
      plan_updateable: false,
      maintenance_info: { version: '1.0.0', description: 'Initial release' },
      metadata: {
        displayName: 'Existing cluster',
        bullets: ['One database per instance on an existing cluster', 'One database user per binding, readWrite on that database']
      },
      schemas: {
        service_instance: {
          create: { parameters: sharedClusterParameters },
          update: { parameters: sharedClusterParameters }
        },
        service_binding: {
          create: { parameters: { $schema: SCHEMA_DRAFT, type: 'object', additionalProperties: true } }
        }
      },
      atlas: { kind: 'shared-cluster' }
    }]
  }]
}

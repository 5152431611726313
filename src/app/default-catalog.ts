/**
 * The built-in catalog. Its service and plan ids are python-atlasbroker's, so platforms that registered the
 * seed keep working after the upgrade (ids are the only immutable key, OSB B2).
 */
import type { BrokerCatalog, BrokerPlan, DedicatedClusterPlanSettings } from '../domain/catalog.js'

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

/** Stable ids of the default one-cluster-per-instance plans (never change them: they are the plans' identity). */
export const DEDICATED_PLAN_IDS = {
  flex: '2bb342b7-7ce6-49f7-865b-f8547e000aeb',
  m10: '6c470cc6-1deb-420d-b72f-4afa27fa86e1',
  m20: 'f07f4cdd-7ee3-4fdd-b85d-5dc917bba42b',
  m30: '870fe0ce-a58a-4ac5-b48a-95cdbf5d7622'
} as const

const REGION = { type: 'string', pattern: '^[A-Z0-9_]+$', description: 'Atlas region name, e.g. US_EAST_1, EUROPE_WEST_1, WESTERN_EUROPE.' }

/** A plan whose instances are each one Atlas cluster; its parameter schemas follow from its settings. */
export function clusterPlan (options: {
  id: string
  name: string
  description: string
  atlas: DedicatedClusterPlanSettings
  hourlyUsd: number
  bullets: string[]
  maximumPollingSeconds: number
}): BrokerPlan {
  const dedicated = options.atlas.clusterKind === 'dedicated'
  const changeable = {
    terminationProtectionEnabled: { type: 'boolean', description: 'Atlas refuses to delete the cluster while this is true.' },
    ...(dedicated
      ? {
          backupEnabled: { type: 'boolean', description: 'Cloud backups.' },
          mongoDBMajorVersion: { type: 'string', enum: ['7.0', '8.0'], description: 'MongoDB major version (upgrades only).' }
        }
      : {})
  }
  const create = {
    $schema: SCHEMA_DRAFT,
    type: 'object',
    additionalProperties: false,
    properties: {
      provider: { type: 'string', enum: options.atlas.providers, description: `Cloud provider (default ${options.atlas.providers[0] ?? 'AWS'}).` },
      region: options.atlas.regions === undefined ? { ...REGION, description: `${REGION.description} Default ${options.atlas.defaultRegion}.` } : { type: 'string', enum: options.atlas.regions },
      database: sharedClusterParameters.properties.database,
      ...changeable
    }
  }
  const update = { $schema: SCHEMA_DRAFT, type: 'object', additionalProperties: false, properties: changeable }
  return {
    id: options.id,
    name: options.name,
    description: options.description,
    free: false,
    bindable: true,
    binding_rotatable: true,
    plan_updateable: dedicated,
    maximum_polling_duration: options.maximumPollingSeconds,
    maintenance_info: { version: '1.0.0', description: 'Initial release' },
    metadata: {
      displayName: options.name.toUpperCase(),
      bullets: options.bullets,
      costs: [{ amount: { usd: options.hourlyUsd }, unit: 'HOURLY' }]
    },
    schemas: {
      service_instance: { create: { parameters: create }, update: { parameters: update } },
      service_binding: { create: { parameters: { $schema: SCHEMA_DRAFT, type: 'object', additionalProperties: true } } }
    },
    atlas: options.atlas
  }
}

const providers: DedicatedClusterPlanSettings['providers'] = ['AWS', 'AZURE', 'GCP']

/** Atlas needs about 13 minutes for an M10; polling stops after 2 hours (flex: 30 minutes). */
const dedicatedTier = (id: string, tier: 'M10' | 'M20' | 'M30', hourlyUsd: number, memory: string): BrokerPlan => clusterPlan({
  id,
  name: tier.toLowerCase(),
  description: `A dedicated Atlas ${tier} cluster (${memory} RAM) per instance`,
  atlas: { kind: 'dedicated-cluster', clusterKind: 'dedicated', instanceSize: tier, providers, defaultRegion: 'US_EAST_1', defaultBackupEnabled: false, defaultTerminationProtectionEnabled: false },
  hourlyUsd,
  bullets: [`Dedicated ${tier} replica set (3 nodes, ${memory} RAM)`, 'Resizable between the dedicated plans', 'One database user per binding'],
  maximumPollingSeconds: 7200
})

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
      binding_rotatable: true,
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
    },
    clusterPlan({
      id: DEDICATED_PLAN_IDS.flex,
      name: 'flex',
      description: 'An Atlas Flex cluster per instance (low cost, scales with usage)',
      atlas: { kind: 'dedicated-cluster', clusterKind: 'flex', providers, defaultRegion: 'US_EAST_1', defaultTerminationProtectionEnabled: false },
      hourlyUsd: 0.011,
      bullets: ['Atlas Flex cluster (replaces M2/M5 and Serverless)', 'Up to 5 GB storage', 'One database user per binding'],
      maximumPollingSeconds: 1800
    }),
    dedicatedTier(DEDICATED_PLAN_IDS.m10, 'M10', 0.08, '2 GB'),
    dedicatedTier(DEDICATED_PLAN_IDS.m20, 'M20', 0.2, '4 GB'),
    dedicatedTier(DEDICATED_PLAN_IDS.m30, 'M30', 0.54, '8 GB')]
  }]
}

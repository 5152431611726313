/**
 * The broker as composed for production (config parsed, HTTP app, HTTP Atlas adapter), over an Atlas simulator
 * on loopback, with an operator's catalog file; OSB calls go through `inject` and are checked against the spec.
 */
import type { Test } from 'tap'
import { AtlasSimulator, type SimulatorOptions } from '../../src/adapters/atlas/simulator/atlas-simulator.js'
import { MemoryStorage } from '../../src/adapters/storage/memory-storage.js'
import { composeBroker, type RunningBroker } from '../../src/app/compose.js'
import { loadConfig } from '../../src/app/config.js'
import type { BrokerCatalog } from '../../src/domain/catalog.js'
import { captureLogger } from './broker.js'
import { catalogFile } from './catalogs.js'
import { osb, type OsbResponse } from './osb-client.js'

export interface SimBroker {
  sim: AtlasSimulator
  broker: RunningBroker
  call: (method: 'GET' | 'PUT' | 'DELETE', url: string, body?: unknown) => Promise<OsbResponse>
  /** The broker's (in-memory) state, shared by restarts. */
  storage: MemoryStorage
  /** The environment the broker was configured from (for the CLI, or to compose another replica). */
  env: Record<string, string>
  /** Stops this broker and composes a new one from the same configuration and storage (a restart). `catalog` may be made from the simulator (its projects). */
  restart: () => Promise<void>
}

const AUTH = `Basic ${Buffer.from('platform:a-long-password').toString('base64')}`

export async function startSimBroker (
  t: Test, catalog: BrokerCatalog | ((sim: AtlasSimulator) => BrokerCatalog), simOptions: SimulatorOptions = {},
  more: { env?: (sim: AtlasSimulator) => Record<string, string> } = {}
): Promise<SimBroker> {
  const sim = new AtlasSimulator({ seedClusters: ['Main'], delays: { userPropagationMs: 20 }, ...simOptions })
  const url = await sim.listen()
  const file = catalogFile(typeof catalog === 'function' ? catalog(sim) : catalog, 'sim-broker')
  const env = {
    ATLAS_BASE_URL: url, ATLAS_PROJECT_ID: sim.projectId, ATLAS_PUBLIC_KEY: sim.publicKey, ATLAS_PRIVATE_KEY: sim.privateKey,
    ATLAS_DEFAULT_CLUSTER: 'Main', BROKER_USERNAME: 'platform', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'z'.repeat(32),
    USER_PROPAGATION_POLL_MS: '10', OPERATION_BUDGET_MS: '5000', ATLAS_REQUEST_TIMEOUT_MS: '1000', CATALOG_FILE: file, ...more.env?.(sim)
  }
  const config = loadConfig(env)
  const storage = new MemoryStorage()
  const made: SimBroker = {
    sim,
    env,
    storage,
    broker: await composeBroker(config, captureLogger('silent').logger, { storage }),
    call: async (method, url, body) =>
      await osb(made.broker.app, t, method, url, { headers: { authorization: AUTH }, ...(body === undefined ? {} : { body }) }),
    restart: async () => {
      await made.broker.close()
      made.broker = await composeBroker(config, captureLogger('silent').logger, { storage })
    }
  }
  t.teardown(async () => { await made.broker.close(); await sim.close() })
  return made
}

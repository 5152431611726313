/** Starts an Atlas simulator and an adapter wired to it, closed when the test ends. */
import { HttpAtlasAdapter, type HttpAtlasAdapterOptions } from '../../src/adapters/atlas/http-atlas-adapter.js'
import { AtlasSimulator, type SimulatorOptions } from '../../src/adapters/atlas/simulator/atlas-simulator.js'

export interface SimPair {
  sim: AtlasSimulator
  url: string
  atlas: HttpAtlasAdapter
  exchanges: Array<{ method: string, path: string, status: number | undefined, attempt: number }>
}

export async function startSim (
  t: { teardown: (fn: () => unknown) => void },
  simOptions: SimulatorOptions = {},
  adapterOptions: Partial<HttpAtlasAdapterOptions> & { auth?: 'digest' | 'service-account' } = {}
): Promise<SimPair> {
  const sim = new AtlasSimulator({ seedClusters: ['Cluster0'], ...simOptions })
  const url = await sim.listen()
  const exchanges: SimPair['exchanges'] = []
  const { auth, ...rest } = adapterOptions
  const atlas = new HttpAtlasAdapter({
    baseUrl: url,
    projectId: sim.projectId,
    credentials: auth === 'service-account'
      ? { kind: 'service-account', clientId: sim.clientId, clientSecret: sim.clientSecret }
      : { kind: 'digest', publicKey: sim.publicKey, privateKey: sim.privateKey },
    requestTimeoutMs: 2000,
    backoffBaseMs: 10,
    backoffMaxMs: 50,
    onExchange: e => exchanges.push(e),
    ...rest
  })
  t.teardown(async () => {
    await atlas.close()
    await sim.close()
  })
  return { sim, url, atlas, exchanges }
}

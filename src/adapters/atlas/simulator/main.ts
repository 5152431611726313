/**
 * `npm run atlas-sim`: starts the Atlas simulator on loopback and prints its URL and credentials, so that a
 * broker (or anything else) can be pointed at it with ATLAS_BASE_URL. Options are command-line flags.
 */
import { parseArgs } from 'node:util'
import { AtlasSimulator } from './atlas-simulator.js'

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'project-id': { type: 'string' },
    'public-key': { type: 'string' },
    'private-key': { type: 'string' },
    'create-seconds': { type: 'string', default: '20' },
    'update-seconds': { type: 'string', default: '10' },
    'delete-seconds': { type: 'string', default: '5' },
    'flex-create-seconds': { type: 'string', default: '5' },
    'propagation-seconds': { type: 'string', default: '2' },
    cluster: { type: 'string', multiple: true, default: ['Cluster0'] },
    help: { type: 'boolean', default: false }
  }
})

if (values.help) {
  console.log('npm run atlas-sim -- [--port N] [--host H] [--cluster NAME ...] [--create-seconds S] [--update-seconds S]\n' +
    '                      [--delete-seconds S] [--flex-create-seconds S] [--propagation-seconds S]\n' +
    '                      [--project-id HEX24] [--public-key K] [--private-key K]')
  process.exit(0)
}

const seconds = (name: keyof typeof values): number => {
  const n = Number(values[name])
  if (!Number.isFinite(n) || n < 0) {
    console.error(`--${name} must be a number of seconds`)
    process.exit(2)
  }
  return n * 1000
}

const sim = new AtlasSimulator({
  ...(values['project-id'] === undefined ? {} : { projectId: values['project-id'] }),
  ...(values['public-key'] === undefined ? {} : { publicKey: values['public-key'] }),
  ...(values['private-key'] === undefined ? {} : { privateKey: values['private-key'] }),
  seedClusters: values.cluster ?? ['Cluster0'],
  delays: {
    clusterCreateMs: seconds('create-seconds'),
    clusterUpdateMs: seconds('update-seconds'),
    clusterDeleteMs: seconds('delete-seconds'),
    flexCreateMs: seconds('flex-create-seconds'),
    userPropagationMs: seconds('propagation-seconds')
  }
})
const url = await sim.listen(Number(values.port), values.host)
console.log(`Atlas simulator listening on ${url}`)
console.log(`  ATLAS_BASE_URL=${url}`)
console.log(`  ATLAS_PROJECT_ID=${sim.projectId}`)
console.log(`  ATLAS_PUBLIC_KEY=${sim.publicKey}`)
console.log(`  ATLAS_PRIVATE_KEY=${sim.privateKey}`)
console.log(`  (service account: ATLAS_CLIENT_ID=${sim.clientId} ATLAS_CLIENT_SECRET=${sim.clientSecret})`)
console.log(`  clusters: ${sim.clusterNames().join(', ')}`)

const stop = (): void => { void sim.close().then(() => process.exit(0)) }
process.once('SIGINT', stop)
process.once('SIGTERM', stop)

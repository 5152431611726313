/**
 * A broker process for crash tests: `node --import=tsx crash-broker-main.ts <storage> <port> <settings JSON>`.
 * `<storage>` is the URL of a store served by the test process (RemoteStorage), or `config` for the storage
 * the settings choose (MONGODB_URI). Either way the state outlives the process. Prints `ready` once
 * listening; meant to be killed with SIGKILL.
 */
import { createBroker } from '../../src/index.js'
import { RemoteStorage } from '../fakes/remote-storage.js'

const [storageUrl, port, settings] = process.argv.slice(2)
if (storageUrl === undefined || port === undefined || settings === undefined) throw new Error('usage: crash-broker-main <storage url> <port> <settings JSON>')
const broker = await createBroker(JSON.parse(settings) as Record<string, string>, storageUrl === 'config' ? {} : { storage: new RemoteStorage(storageUrl) })
await broker.listen({ port: Number(port), host: '127.0.0.1' })
process.stdout.write('ready\n')

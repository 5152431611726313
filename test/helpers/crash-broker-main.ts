/**
 * A broker process for crash tests: `node --import=tsx crash-broker-main.ts <storage url> <port> <settings JSON>`.
 * Its state lives in the test process (RemoteStorage), like MongoDB outliving a killed replica; it prints
 * `ready` once listening. Meant to be killed with SIGKILL.
 */
import { createBroker } from '../../src/index.js'
import { RemoteStorage } from '../fakes/remote-storage.js'

const [storageUrl, port, settings] = process.argv.slice(2)
if (storageUrl === undefined || port === undefined || settings === undefined) throw new Error('usage: crash-broker-main <storage url> <port> <settings JSON>')
const broker = await createBroker(JSON.parse(settings) as Record<string, string>, { storage: new RemoteStorage(storageUrl) })
await broker.listen({ port: Number(port), host: '127.0.0.1' })
process.stdout.write('ready\n')

/** The crash tests' out-of-process store keeps the storage contract, so what they prove holds for it. */
import t from 'tap'
import { MemoryStorage } from '../../src/adapters/storage/memory-storage.js'
import { StorageUnavailableError } from '../../src/ports/storage-port.js'
import { storageContract } from '../adapters/storage/storage-contract.js'
import { RemoteStorage, serveStorage } from './remote-storage.js'

storageContract(t, 'RemoteStorage (a MemoryStorage in the test process, over loopback HTTP)', async () => {
  const served = await serveStorage(new MemoryStorage())
  t.teardown(served.close)
  return new RemoteStorage(served.url)
})

t.test('an unreachable store is StorageUnavailableError', async t => {
  const served = await serveStorage(new MemoryStorage())
  await served.close()
  await t.rejects(new RemoteStorage(served.url).ping(), StorageUnavailableError)
})

/**
 * MongoStorage: the StoragePort contract against a real mongod when one is given; without one, only the
 * parts that need no server (timeouts, error translation) run, and one line says the rest was skipped.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { MongoClient, MongoServerError } from 'mongodb'
import { MongoStorage, toStorageError } from '../../../src/adapters/storage/mongo-storage.js'
import { RecordExistsError, StorageError, StorageUnavailableError } from '../../../src/ports/storage-port.js'
import { captureLogger } from '../../helpers/broker.js'
import { FakeMongoClient } from '../../fakes/fake-mongo-client.js'
import { NO_MONGO_REASON, startMongo } from '../../helpers/mongo.js'
import { newInstance, storageContract } from './storage-contract.js'

t.test('an unreachable MongoDB is a StorageUnavailableError within timeoutms, not a hang', async t => {
  const started = Date.now()
  const err = await MongoStorage.connect({ uri: 'mongodb://user:pw-secret@127.0.0.1:1/x', database: 'x', collection: 'c', timeoutMs: 500 }).catch((e: unknown) => e)
  t.type(err, StorageUnavailableError)
  t.ok(Date.now() - started < 5000, `${Date.now() - started} ms`)
  t.notMatch((err as Error).message, /pw-secret/)
})

t.test('driver errors are translated once', async t => {
  const duplicate = new MongoServerError({ message: 'E11000 duplicate key error', code: 11000 })
  t.type(toStorageError(duplicate, 'create'), RecordExistsError)
  t.type(toStorageError(new MongoServerError({ message: 'operation exceeded time limit', code: 50 }), 'read'), StorageUnavailableError)
  t.type(toStorageError(new Error('other'), 'read'), StorageError)
})

// The adapter's own logic, with the driver stood in (no mongod here); the real-server run is below.
storageContract(t, 'MongoStorage over a stand-in driver', async () => await MongoStorage.connect({
  uri: 'mongodb://unused', database: 'db', collection: 'c', timeoutMs: 1000, client: new FakeMongoClient() as unknown as MongoClient
}))

t.test('MongoStorage over a stand-in driver: foreign and older documents are skipped with a log line', async t => {
  const client = new FakeMongoClient()
  const { logger, lines } = captureLogger('warn')
  const storage = await MongoStorage.connect({ uri: 'mongodb://unused', database: 'db', collection: 'c', timeoutMs: 1000, logger, client: client as unknown as MongoClient })
  const raw = client.db().collection('c_instances')
  raw.raw({ _id: 'legacy', instance_id: 'legacy', parameters: {} })
  raw.raw({ _id: 'future', schemaVersion: 99, state: 'ready' })
  await storage.createInstance(newInstance('fine', { cluster: 'C', database: 'd' }))
  t.equal(await storage.getInstance('legacy'), undefined)
  t.equal(await storage.getInstance('future'), undefined)
  t.same((await storage.listInstancesUsingDatabase('C', 'd')).map(i => i.id), ['fine'])
  t.match(lines.join('\n'), /skipping a document/)
})

const mongo = await startMongo()
if (mongo === undefined) {
  t.comment(`skipped: the MongoStorage contract suite (${NO_MONGO_REASON})`)
  t.test('MongoStorage: StoragePort contract', { skip: NO_MONGO_REASON }, async () => {})
} else {
  t.teardown(() => mongo.stop())
  const database = `atlas_broker_test_${randomBytes(4).toString('hex')}`
  const opened: MongoStorage[] = []
  t.teardown(async () => {
    for (const s of opened) await s.close()
    const client = new MongoClient(mongo.uri)
    await client.db(database).dropDatabase()
    await client.close()
  })
  let n = 0
  storageContract(t, 'MongoStorage', async () => {
    const s = await MongoStorage.connect({ uri: mongo.uri, database, collection: `c${n++}`, timeoutMs: 5000 })
    opened.push(s)
    return s
  })

  t.test('MongoStorage: indexes are idempotent; foreign and older documents are skipped with a log line', async t => {
    const { logger, lines } = captureLogger('warn')
    const a = await MongoStorage.connect({ uri: mongo.uri, database, collection: 'foreign', timeoutMs: 5000, logger })
    const b = await MongoStorage.connect({ uri: mongo.uri, database, collection: 'foreign', timeoutMs: 5000, logger })
    opened.push(a, b)
    const client = new MongoClient(mongo.uri)
    t.teardown(() => client.close())
    const raw = client.db(database).collection<{ _id: string } & Record<string, unknown>>('foreign_instances')
    await raw.insertOne({ _id: 'legacy', instance_id: 'legacy', parameters: {} })
    await raw.insertOne({ _id: 'future', schemaVersion: 99, state: 'ready' })
    await a.createInstance(newInstance('fine', { cluster: 'C', database: 'd' }))
    t.equal(await a.getInstance('legacy'), undefined)
    t.equal(await a.getInstance('future'), undefined)
    t.equal((await a.getInstance('fine'))?.id, 'fine')
    t.same((await a.listInstancesUsingDatabase('C', 'd')).map(i => i.id), ['fine'])
    t.match(lines.join('\n'), /skipping a document/)
  })
}

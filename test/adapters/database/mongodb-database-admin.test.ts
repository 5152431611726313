/**
 * MongoDatabaseAdmin against a real mongod, when one is given (MONGODB_URI). Our machines cannot download a
 * mongod binary, so without it this test says so and runs only the part that needs no server.
 */
import t from 'tap'
import { MongoClient } from 'mongodb'
import { MongoDatabaseAdmin } from '../../../src/adapters/database/mongodb-database-admin.js'
import { DatabaseAdminError } from '../../../src/ports/database-admin-port.js'

const uri = process.env.MONGODB_URI

t.test('an unreachable cluster is a DatabaseAdminError within the deadline, without the password', async t => {
  const admin = new MongoDatabaseAdmin({ timeoutMs: 1000 })
  const started = Date.now()
  const err = await admin.dropDatabase('mongodb://user:s3cret-pw@127.0.0.1:1/db?authSource=admin', 'db').catch((e: unknown) => e)
  t.type(err, DatabaseAdminError)
  t.notMatch((err as Error).message, /s3cret-pw/)
  t.ok(Date.now() - started < 5000)
})

if (uri === undefined) {
  t.comment('skipped: MongoDatabaseAdmin drop against a real mongod (set MONGODB_URI to run it; no mongod binary can be downloaded here)')
  t.test('drops the database on a real mongod', { skip: 'no mongod available (set MONGODB_URI)' }, async () => {})
} else {
  t.test('drops the database on a real mongod', async t => {
    const client = new MongoClient(uri)
    t.teardown(() => client.close())
    await client.db('atlas_broker_drop_test').collection('c').insertOne({ a: 1 })
    await new MongoDatabaseAdmin().dropDatabase(uri, 'atlas_broker_drop_test')
    const { databases } = await client.db().admin().listDatabases()
    t.notOk(databases.some(d => d.name === 'atlas_broker_drop_test'))
  })
}

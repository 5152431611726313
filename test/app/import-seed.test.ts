/**
 * `atlas-broker import-seed` as an operator runs it: a mongoexport of python-atlasbroker's collection (or the
 * collection itself, where a mongod is given), dry run first, then --apply, then the new broker serving the
 * imported bindings; every line of output asserted.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { AtlasSimulator } from '../../src/adapters/atlas/simulator/atlas-simulator.js'
import { MemoryStorage } from '../../src/adapters/storage/memory-storage.js'
import { runCli } from '../../src/app/cli-commands.js'
import { HttpAtlasAdapter } from '../../src/adapters/atlas/http-atlas-adapter.js'
import { NO_MONGO_REASON, startMongo } from '../helpers/mongo.js'

const I1 = '3c1f0b9e-6a2d-4e8f-9b7c-1a2b3c4d5e6f'
const B1 = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d'

async function seeded (t: Test): Promise<{ sim: AtlasSimulator, env: Record<string, string> }> {
  const sim = new AtlasSimulator({ seedClusters: ['Cluster0'] })
  const url = await sim.listen()
  t.teardown(() => sim.close())
  // The seed's user for B1, as python-atlasbroker made it (username = binding id, no labels).
  const atlas = new HttpAtlasAdapter({ baseUrl: url, projectId: sim.projectId, credentials: { kind: 'digest', publicKey: sim.publicKey, privateKey: sim.privateKey } })
  await atlas.createDatabaseUser({ username: B1, password: 'seed-random-password', roles: [{ roleName: 'readWrite', databaseName: `instance-${I1}` }], scopes: [], labels: [] })
  await atlas.close()
  return {
    sim,
    env: {
      ATLAS_BASE_URL: url, ATLAS_PROJECT_ID: sim.projectId, ATLAS_PUBLIC_KEY: sim.publicKey, ATLAS_PRIVATE_KEY: sim.privateKey,
      BROKER_USERNAME: 'platform', BROKER_PASSWORD: 'a-long-password', CREDENTIALS_SECRET: 'z'.repeat(32), MONGODB_URI: 'mongodb://127.0.0.1:9/unused'
    }
  }
}

const EXPORT = [
  JSON.stringify({ _id: { $oid: '5f0000000000000000000001' }, instance_id: I1, database: `instance-${I1}`, cluster: 'Cluster0', parameters: {} }),
  JSON.stringify({ _id: { $oid: '5f0000000000000000000002' }, binding_id: B1, instance_id: I1, parameters: {} })
].join('\n')

async function cli (argv: string[], env: Record<string, string>, storage: MemoryStorage): Promise<{ code: number, out: string[], err: string[] }> {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(argv, env, l => out.push(l), l => err.push(l), { storage })
  return { code, out, err }
}

t.test('from a mongoexport file: dry run, apply, re-run', async t => {
  const { sim, env } = await seeded(t)
  const dir = mkdtempSync(path.join(tmpdir(), 'seed-'))
  const file = path.join(dir, 'atlasbroker.json')
  writeFileSync(file, EXPORT)
  const storage = new MemoryStorage()

  const dry = await cli(['import-seed', '--file', file], env, storage)
  t.equal(dry.code, 0)
  t.same(dry.out, [
    `imported instance ${I1}: would import: database instance-${I1} on cluster Cluster0`,
    `imported binding ${B1}: would import: Atlas user ${B1}, to be labelled`,
    '2 documents to import, 0 already present, 0 skipped, 0 failed (dry run: nothing was written; run again with --apply)'
  ])
  t.equal(await storage.getInstance(I1), undefined, 'the dry run wrote nothing')

  const applied = await cli(['import-seed', '--file', file, '--apply'], env, storage)
  t.equal(applied.code, 0)
  t.same(applied.out, [
    `imported instance ${I1}: database instance-${I1} on cluster Cluster0`,
    `imported binding ${B1}: Atlas user ${B1}, labelled`,
    '2 documents imported, 0 already present, 0 skipped, 0 failed'
  ])
  t.match(sim.databaseUsers().find(u => u.username === B1)?.labels, [{ key: 'osb-binding-id', value: B1 }, { key: 'osb-instance-id', value: I1 }, { key: 'managed-by', value: 'atlas-broker' }])

  const again = await cli(['import-seed', '--file', file, '--apply'], env, storage)
  t.same(again.out.at(-1), '0 documents imported, 2 already present, 0 skipped, 0 failed')
})

t.test('mistakes are one sentence: no file, a file that is not a mongoexport, no MONGODB_URI', async t => {
  const { env } = await seeded(t)
  const storage = new MemoryStorage()
  const missing = await cli(['import-seed', '--file', '/nonexistent/export.json'], env, storage)
  t.equal(missing.code, 2)
  t.match(missing.err, [/^atlas-broker import-seed: invalid configuration:\n {2}- --file: cannot read \/nonexistent\/export\.json \(ENOENT\)$/])
  const dir = mkdtempSync(path.join(tmpdir(), 'seed-'))
  writeFileSync(path.join(dir, 'bad.json'), '{ not json')
  const bad = await cli(['import-seed', '--file', path.join(dir, 'bad.json')], env, storage)
  t.match(bad.err, [/--file: .*bad\.json is not a mongoexport of JSON documents/])
  const { MONGODB_URI: _unused, ...withoutMongo } = env
  const noTarget = await runCli(['import-seed', '--file', path.join(dir, 'bad.json')], withoutMongo, () => undefined, () => undefined)
  t.equal(noTarget, 2, 'no MONGODB_URI: the state to import into is missing')
})

const mongo = await startMongo()
if (mongo === undefined) t.comment(`skipped: import-seed from the seed's MongoDB collection (${NO_MONGO_REASON})`)
t.test('from the seed\'s MongoDB collection', mongo === undefined ? { skip: NO_MONGO_REASON } : {}, async t => {
  if (mongo === undefined) return
  t.teardown(() => mongo.stop())
  const { MongoClient } = await import('mongodb')
  const client = new MongoClient(mongo.uri)
  await client.connect()
  t.teardown(() => client.close())
  const db = `seed_import_${Date.now()}`
  await client.db(db).collection('atlasbroker').insertMany(EXPORT.split('\n').map(line => { const { _id: _ignored, ...doc } = JSON.parse(line) as Record<string, unknown>; return doc }))
  const { env } = await seeded(t)
  const storage = new MemoryStorage()
  const result = await cli(['import-seed', '--apply'], { ...env, MONGODB_URI: mongo.uri, MONGODB_DATABASE: db, MONGODB_COLLECTION: 'atlasbroker' }, storage)
  t.equal(result.code, 0, result.err.join('\n'))
  t.equal(result.out.at(-1), '2 documents imported, 0 already present, 0 skipped, 0 failed')
  await client.db(db).dropDatabase()
})

import { randomUUID } from 'node:crypto'
import t from 'tap'
import { TombstoneText } from '../../../src/adapters/storage/tombstone-text.js'

/** A deleted shared-plan binding as the broker stores it (the shape that matters: shared keys and strings). */
function binding (): Record<string, unknown> {
  const instanceId = randomUUID()
  const id = `b-${randomUUID()}`
  const at = new Date().toISOString()
  return {
    id, state: 'deleted', instanceId, username: id, cluster: 'Cluster0', database: instanceId, keyId: 'primary', version: 3,
    lastOperation: { id: randomUUID(), kind: 'unbind', state: 'succeeded', startedAt: at, updatedAt: at },
    serviceId: '2a04f349-4aab-4fcb-af6d-8e1749a77c13', planId: '8db474d1-3cc0-4f4d-b864-24e3bd49b874',
    parameters: {}, roles: [{ roleName: 'readWrite', databaseName: instanceId }], createdAt: at, updatedAt: at,
    connectionStrings: {
      standard: 'mongodb://cluster0-shard-00-00.ab12c.mongodb.net:27017,cluster0-shard-00-01.ab12c.mongodb.net:27017/?ssl=true&authSource=admin',
      standardSrv: 'mongodb+srv://cluster0.ab12c.mongodb.net'
    }
  }
}

t.test('a tombstone reads back exactly as it was packed, the first one and later ones', async t => {
  const text = new TombstoneText()
  const records = [binding(), binding(), { ...binding(), parameters: { note: 'naïve — 日本語 ✓', nested: [1, null, true] } }]
  const packed = records.map(r => text.pack(r))
  t.same(packed.map(p => text.unpack(p)), records)
  t.not(text.unpack(packed[0]!), records[0], 'each read is a fresh copy')
})

t.test('records sharing the first one\'s shape take a fraction of their JSON', async t => {
  const text = new TombstoneText()
  text.pack(binding())
  const record = binding()
  const json = JSON.stringify(record).length
  const packed = text.pack(record).length
  t.ok(packed * 4 < json, `${json} characters of JSON packed into ${packed}`)
})

t.test('a first record longer than the dictionary can hold, and records unlike it, still read back', async t => {
  const text = new TombstoneText()
  const long = { ...binding(), parameters: { blob: 'x'.repeat(10_000) } }
  const other = { id: 'i-1', state: 'deleted', version: 2, lastOperation: { kind: 'deprovision' } }
  const packed = [text.pack(long), text.pack(other), text.pack(binding())]
  t.same(text.unpack(packed[0]!), long)
  t.same(text.unpack(packed[1]!), other)
  t.equal((text.unpack(packed[2]!) as { state: string }).state, 'deleted')
})

/**
 * The StoragePort contract: every storage adapter runs this same suite, so the in-memory store used by
 * tests and local mode cannot drift from the production one.
 */
import type { Test } from 'tap'
import {
  type BindingRecord, type InstanceRecord, type NewRecord, type StoragePort, RecordExistsError, VersionConflictError
} from '../../../src/ports/storage-port.js'

const op = { id: 'op-1', kind: 'provision' as const, state: 'succeeded' as const, startedAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z' }

export function newInstance (id: string, extra: Partial<NewRecord<InstanceRecord>> = {}): NewRecord<InstanceRecord> {
  return {
    id, state: 'ready', lastOperation: op, serviceId: 'svc', planId: 'plan', organizationGuid: 'org', spaceGuid: 'space',
    parameters: { database: 'db', nested: { a: [1, 2] } }, cluster: 'Cluster0', database: 'db', ...extra
  }
}

export function newBinding (id: string, instanceId: string, extra: Partial<NewRecord<BindingRecord>> = {}): NewRecord<BindingRecord> {
  return {
    id, state: 'ready', lastOperation: { ...op, kind: 'bind' }, instanceId, serviceId: 'svc', planId: 'plan', parameters: {},
    username: `u-${id}`, roles: [{ roleName: 'readWrite', databaseName: 'db' }], cluster: 'Cluster0', database: 'db', ...extra
  }
}

export function storageContract (t: Test, name: string, open: () => Promise<StoragePort>): void {
  t.test(`${name}: StoragePort contract`, async t => {
    t.test('create is create-if-absent and returns the stored record', async t => {
      const s = await open()
      const created = await s.createInstance(newInstance('i1'))
      t.equal(created.version, 1)
      t.type(created.createdAt, 'string')
      t.same(created.parameters, { database: 'db', nested: { a: [1, 2] } })
      await t.rejects(s.createInstance(newInstance('i1', { database: 'other' })), RecordExistsError)
      t.equal((await s.getInstance('i1'))?.database, 'db', 'the loser changed nothing')
      t.equal(await s.getInstance('missing'), undefined)
    })

    t.test('reads are copies', async t => {
      const s = await open()
      await s.createInstance(newInstance('i2'))
      const read = await s.getInstance('i2')
      read!.parameters.database = 'mutated'
      t.equal((await s.getInstance('i2'))?.parameters.database, 'db')
    })

    t.test('updates are conditional on the version; undefined removes a field', async t => {
      const s = await open()
      await s.createInstance(newInstance('i3', { leaseUntil: '2030-01-01T00:00:00.000Z' }))
      const updated = await s.updateInstance('i3', 1, { state: 'deleting', leaseUntil: undefined })
      t.equal(updated.version, 2)
      t.equal(updated.state, 'deleting')
      t.notOk('leaseUntil' in updated && updated.leaseUntil !== undefined)
      await t.rejects(s.updateInstance('i3', 1, { state: 'ready' }), VersionConflictError, 'a stale version loses')
      await t.rejects(s.updateInstance('nope', 1, { state: 'ready' }), VersionConflictError, 'a missing record conflicts')
      t.equal((await s.getInstance('i3'))?.state, 'deleting')
    })

    t.test('tombstones are kept and readable; bindings listed per instance without tombstones', async t => {
      const s = await open()
      await s.createInstance(newInstance('i4'))
      await s.createBinding(newBinding('b1', 'i4'))
      await s.createBinding(newBinding('b2', 'i4'))
      await s.createBinding(newBinding('b3', 'other'))
      const b2 = await s.getBinding('b2')
      await s.updateBinding('b2', b2!.version, { state: 'deleted' })
      t.same((await s.listBindings('i4')).map(b => b.id), ['b1'])
      t.equal((await s.getBinding('b2'))?.state, 'deleted', 'tombstone readable')
      await t.rejects(s.createBinding(newBinding('b2', 'i4')), RecordExistsError, 'a tombstone still holds its id')
    })

    t.test('a tombstone is kept whole, read as a copy, revived by a conditional update and listed again', async t => {
      const s = await open()
      await s.createInstance(newInstance('t1', { cluster: 'CT', database: 'tdb' }))
      await s.createBinding(newBinding('tb1', 't1', { cluster: 'CT', database: 'tdb' }))
      const binding = await s.getBinding('tb1')
      const gone = await s.updateBinding('tb1', binding!.version, { state: 'deleted', lastOperation: { ...binding!.lastOperation, kind: 'unbind' } })
      const read = await s.getBinding('tb1')
      t.same(read, gone, 'every field is kept')
      read!.roles.push({ roleName: 'dbAdmin', databaseName: 'x' })
      t.same((await s.getBinding('tb1'))?.roles, gone.roles, 'reads of a tombstone are copies')
      await t.rejects(s.updateBinding('tb1', gone.version - 1, { state: 'ready' }), VersionConflictError, 'updates of a tombstone are conditional too')
      const instance = await s.getInstance('t1')
      await s.updateInstance('t1', instance!.version, { state: 'deleted', lastOperation: { ...instance!.lastOperation, state: 'in progress' } })
      t.same(await s.listInstancesUsingDatabase('CT', 'tdb'), [], 'a tombstone is not listed')
      t.equal(await s.countOperationsInProgress(), 0, 'nor counted as in progress')
      const revived = await s.updateInstance('t1', instance!.version + 1, { state: 'ready' })
      t.same((await s.listInstancesUsingDatabase('CT', 'tdb')).map(i => i.id), ['t1'], 'revived, it is listed again')
      t.equal(await s.countOperationsInProgress(), 1, 'and counted again')
      t.same(await s.getInstance('t1'), revived)
      const again = await s.updateBinding('tb1', gone.version, { state: 'ready' })
      t.same((await s.listBindings('t1')).map(b => b.id), ['tb1'])
      await s.updateBinding('tb1', again.version, { state: 'deleted' })
      await s.deleteBinding('tb1', again.version + 1)
      t.equal(await s.getBinding('tb1'), undefined, 'a tombstone can be deleted')
    })

    t.test('instances using a database: live ones on that cluster only', async t => {
      const s = await open()
      await s.createInstance(newInstance('d1', { cluster: 'C1', database: 'shared' }))
      await s.createInstance(newInstance('d2', { cluster: 'C1', database: 'shared' }))
      await s.createInstance(newInstance('d3', { cluster: 'C2', database: 'shared' }))
      await s.createInstance(newInstance('d4', { cluster: 'C1', database: 'other' }))
      const d2 = await s.getInstance('d2')
      await s.updateInstance('d2', d2!.version, { state: 'deleted' })
      t.same((await s.listInstancesUsingDatabase('C1', 'shared')).map(i => i.id), ['d1'])
    })

    t.test('listings follow deletes, re-creates and moved records (no stale entries)', async t => {
      const s = await open()
      await s.createBinding(newBinding('lb1', 'li1'))
      await s.createBinding(newBinding('lb2', 'li1'))
      await s.deleteBinding('lb1', 1)
      t.same((await s.listBindings('li1')).map(b => b.id), ['lb2'])
      await s.createBinding(newBinding('lb1', 'li2'))
      t.same((await s.listBindings('li1')).map(b => b.id), ['lb2'])
      t.same((await s.listBindings('li2')).map(b => b.id), ['lb1'])
      await s.createInstance(newInstance('ld1', { cluster: 'M1', database: 'a' }))
      await s.updateInstance('ld1', 1, { database: 'b' })
      t.same(await s.listInstancesUsingDatabase('M1', 'a'), [])
      t.same((await s.listInstancesUsingDatabase('M1', 'b')).map(i => i.id), ['ld1'])
      t.same(await s.listInstancesUsingDatabase('M1b', ''), [], 'names are not concatenated')
      await s.deleteInstance('ld1', 2)
      t.same(await s.listInstancesUsingDatabase('M1', 'b'), [])
    })

    t.test('live bindings a page at a time: every live one once, in id order, tombstones left out', async t => {
      const s = await open()
      for (let n = 0; n < 7; n++) await s.createBinding(newBinding(`pg-${n}`, 'pg-i'))
      const gone = await s.getBinding('pg-3')
      await s.updateBinding('pg-3', gone!.version, { state: 'deleted' })
      const pages: string[][] = []
      for await (const page of s.liveBindingPages(3)) pages.push(page.map(b => b.id).filter(id => id.startsWith('pg-')))
      t.same(pages.flat(), ['pg-0', 'pg-1', 'pg-2', 'pg-4', 'pg-5', 'pg-6'])
      t.ok(pages.every(p => p.length <= 3), 'no page over its size')
    })

    t.test('delete is conditional and idempotent', async t => {
      const s = await open()
      await s.createBinding(newBinding('b9', 'i9'))
      await t.rejects(s.deleteBinding('b9', 7), VersionConflictError)
      await s.deleteBinding('b9', 1)
      t.equal(await s.getBinding('b9'), undefined)
      await s.deleteBinding('b9', 1)
      await s.createInstance(newInstance('i9'))
      await s.deleteInstance('i9', 1)
      t.equal(await s.getInstance('i9'), undefined)
    })

    t.test('concurrent creates: exactly one wins', async t => {
      const s = await open()
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => s.createBinding(newBinding('race', 'i', { username: `u${i}` }))))
      t.equal(results.filter(r => r.status === 'fulfilled').length, 1)
      for (const r of results) if (r.status === 'rejected') t.type(r.reason, RecordExistsError)
    })

    t.test('concurrent conditional updates of one version: exactly one wins', async t => {
      const s = await open()
      await s.createInstance(newInstance('race-u'))
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => s.updateInstance('race-u', 1, { database: `db${i}` })))
      t.equal(results.filter(r => r.status === 'fulfilled').length, 1)
      t.equal((await s.getInstance('race-u'))?.version, 2)
    })

    t.test('bind vs deprovision claims: whichever claims second sees the other (listing includes live binding claims)', async t => {
      const s = await open()
      const instance = await s.createInstance(newInstance('race-d'))
      // Bind claims first, then the deprovision claims the instance and lists its bindings: the claim is there.
      await s.createBinding(newBinding('race-b1', 'race-d', { state: 'creating', leaseUntil: '2999-01-01T00:00:00.000Z' }))
      const claimed = await s.updateInstance('race-d', instance.version, { state: 'deleting' })
      t.same((await s.listBindings('race-d')).map(b => [b.id, b.state]), [['race-b1', 'creating']])
      // A bind claimed after the deprovision's claim reads the instance again: it sees the deletion.
      await s.createBinding(newBinding('race-b2', 'race-d', { state: 'creating' }))
      t.equal((await s.getInstance('race-d'))?.state, 'deleting')
      t.equal((await s.getInstance('race-d'))?.version, claimed.version)
    })

    t.test('a binding keeps the connection strings recorded with it', async t => {
      const s = await open()
      const connectionStrings = { standard: 'mongodb://h1:27017,h2:27017/?ssl=true', standardSrv: 'mongodb+srv://c.abcde.mongodb.net' }
      const b = await s.createBinding(newBinding('cs', 'i', { state: 'creating' }))
      await s.updateBinding('cs', b.version, { state: 'ready', connectionStrings })
      t.same((await s.getBinding('cs'))?.connectionStrings, connectionStrings)
    })

    t.test('operations in progress are counted', async t => {
      const s = await open()
      const before = await s.countOperationsInProgress()
      await s.createInstance(newInstance('busy', { state: 'creating', lastOperation: { ...op, state: 'in progress' } }))
      await s.createBinding(newBinding('busy-b', 'busy', { state: 'creating', lastOperation: { ...op, kind: 'bind', state: 'in progress' } }))
      await s.createInstance(newInstance('idle'))
      t.equal(await s.countOperationsInProgress(), before + 2)
    })

    t.test('ping answers when the store is up', async t => {
      const s = await open()
      await s.ping()
      t.pass('reachable')
    })
  })
}

import t from 'tap'
import type { AtlasCluster } from '../../src/ports/atlas-port.js'
import type { InstanceRecord, OperationRecord } from '../../src/ports/storage-port.js'
import { updateProgress } from '../../src/domain/cluster-specs.js'

const at = '2026-12-02T00:00:00.000Z'
const op: OperationRecord = { id: 'op', kind: 'update', state: 'in progress', targetPlanId: 'm20', targetParameters: { backupEnabled: true }, startedAt: at, updatedAt: at }
const record = { id: 'i', cluster: 'c1', planId: 'm10' } as unknown as InstanceRecord
const cluster = (stateName: AtlasCluster['stateName'], instanceSize: string): AtlasCluster =>
  ({ name: 'c1', kind: 'dedicated', stateName, instanceSize, terminationProtectionEnabled: false, tags: [], connectionStrings: {} }) as AtlasCluster

t.test('an update succeeds once the cluster is IDLE at the target tier, taking the target plan and parameters', async t => {
  const changes = updateProgress(record, op, cluster('IDLE', 'M20'), 'M20', at)
  t.match(changes, { state: 'ready', planId: 'm20', parameters: { backupEnabled: true }, lastOperation: { state: 'succeeded' } })
})

t.test('an update still running reports the cluster state once; a gone cluster or another tier fails it', async t => {
  t.match(updateProgress(record, op, cluster('UPDATING', 'M10'), 'M20', at), { lastOperation: { state: 'in progress', description: 'Atlas cluster c1 is UPDATING' } })
  t.equal(updateProgress(record, { ...op, description: 'Atlas cluster c1 is UPDATING' }, cluster('UPDATING', 'M10'), 'M20', at), undefined, 'nothing new to record')
  t.match(updateProgress(record, op, undefined, 'M20', at), { state: 'ready', lastOperation: { state: 'failed', instanceUsable: false, updateRepeatable: false } })
  t.match(updateProgress(record, op, cluster('IDLE', 'M30'), 'M20', at), { state: 'ready', lastOperation: { state: 'failed', instanceUsable: true, updateRepeatable: true, description: /is M30/ } })
})

t.test('a settings-only update (no tier asked for) succeeds at any tier', async t => {
  t.match(updateProgress(record, { ...op, targetPlanId: undefined }, cluster('IDLE', 'M10'), undefined, at), { state: 'ready', lastOperation: { state: 'succeeded' } })
})

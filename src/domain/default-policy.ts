/**
 * The built-in policy: what the broker does when no policy file overrides a hook.
 * Database and user names come from the OSB ids (hashed when the id has characters MongoDB or URLs dislike),
 * the user gets `readWrite` on the instance database (a rotation: the predecessor's roles), and the password is
 * derived, so never stored. Authentication and lifetime are what the bind asked for.
 */
import { createHash } from 'node:crypto'
import type { Policy } from '../ports/policy-port.js'

const SAFE_ID = /^[A-Za-z0-9_-]{1,54}$/

function safeName (prefix: string, id: string): string {
  return SAFE_ID.test(id) ? id : `${prefix}-${createHash('sha256').update(id).digest('hex').slice(0, 40)}`
}

export const defaultPolicy: Policy = {
  databaseName: instance => safeName('db', instance.instanceId),
  clusterName: instance => `osb-${createHash('sha256').update(instance.instanceId).digest('hex').slice(0, 19)}`,
  projectName: instance => `osb-${createHash('sha256').update(instance.instanceId).digest('hex').slice(0, 24)}`,
  username: binding => safeName('user', binding.bindingId),
  password: binding => binding.derive('password'),
  // A rotation keeps what the predecessor was granted.
  roles: binding => binding.predecessor?.roles ?? [{ roleName: 'readWrite', databaseName: binding.database }],
  bindingAuth: binding => binding.auth,
  bindingLifetimeHours: binding => binding.lifetimeHours,
  credentials: (_binding, credentials) => credentials,
  predictableCredentials: true
}

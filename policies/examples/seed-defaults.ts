/**
 * python-atlasbroker's own defaults, as a policy: for platforms that must see exactly what the old broker
 * gave. Copy it to `policies/` (e.g. `policies/05-seed-defaults.ts`) to enable it.
 *
 *   database name   instance-<instance id>            (built-in: the instance id)
 *   roles           dbAdmin and readWrite on it      (built-in: readWrite)
 *   password        random for each binding          (built-in: derived from CREDENTIALS_SECRET, never stored)
 *   username        the binding id                   (the same as the built-in)
 *
 * One difference stays: the old broker kept random passwords nowhere; this broker seals them
 * (AES-256-GCM, CREDENTIALS_SECRET) in its state so that a repeated bind or a fetch can answer.
 */
import { randomBytes } from 'node:crypto'
import type { PolicyPlugin } from 'atlas-broker'

const policy: PolicyPlugin = {
  databaseName: instance => `instance-${instance.instanceId}`,
  roles: binding => [
    { roleName: 'dbAdmin', databaseName: binding.database },
    { roleName: 'readWrite', databaseName: binding.database }
  ],
  password: () => randomBytes(18).toString('base64url'),
  predictableCredentials: false
}

export default policy

/**
 * Failures an operator causes and fixes (a setting, a file, a port, an unreachable MongoDB): said in one
 * sentence, without a stack trace, with the exit code the README documents (2: the configuration is wrong;
 * 1: something it names cannot be used right now). Anything else is a bug and keeps its stack.
 */
import { PolicyLoadError } from '../ports/policy-port.js'
import { StorageError } from '../ports/storage-port.js'
import { ConfigError } from './config.js'

export const EXIT = { ok: 0, failed: 1, configuration: 2 } as const

export interface ExpectedFailure {
  code: number
  message: string
}

export function expectedFailure (err: unknown, where: { port?: number, host?: string } = {}): ExpectedFailure | undefined {
  if (err instanceof ConfigError) return { code: EXIT.configuration, message: err.message }
  if (err instanceof PolicyLoadError) return { code: EXIT.configuration, message: `POLICIES_DIR: ${err.message}` }
  if (err instanceof StorageError) return { code: EXIT.failed, message: `MongoDB (MONGODB_URI) cannot be used: ${err.message}` }
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  const port = where.port ?? 0
  if (code === 'EADDRINUSE') return { code: EXIT.failed, message: `PORT: port ${port} on ${where.host ?? ''} is already in use by another process; stop it or choose another PORT` }
  if (code === 'EACCES') return { code: EXIT.failed, message: `PORT: port ${port} needs privileges this process does not have; choose a port above 1023` }
  if (code === 'EADDRNOTAVAIL') return { code: EXIT.failed, message: `HOST: ${where.host ?? ''} is not an address of this machine` }
  return undefined
}

/**
 * Calls into the policy: every hook's result is checked before the broker acts on it, and every failure
 * becomes one of two errors. A refusal (`facts.refuse(message)`, or a thrown PolicyRefusal) is a 400 with
 * the policy's message. Anything else (a throw, a Promise, a value of the wrong shape) is a PolicyError, a
 * 500 whose description names only the hook; what went wrong is logged, scrubbed of every secret the call
 * could have seen.
 */
import {
  type BindingFacts, type InstanceData, type InstanceFacts, type Policy, type PolicyHook, type PolicyTools,
  isPolicyRefusal, PolicyError, PolicyRefusal
} from '../ports/policy-port.js'
import { type DatabaseUserAuth, DATABASE_USER_AUTHS } from '../ports/atlas-port.js'
import type { LoggerPort } from '../ports/logger-port.js'
import { type JsonObject, BadRequestError } from '../ports/service-broker.js'
import type { DatabaseRole } from '../ports/storage-port.js'
import { redact } from './redact.js'

/** Facts about a binding, as the domain builds them (the hook's tools are added per call). */
export type BindingData = Omit<BindingFacts, keyof PolicyTools>

const CLUSTER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9-]{0,22}$/
const PROJECT_NAME = /^[\w .()-]{1,64}$/

const tools: PolicyTools = {
  refuse (message: string): never {
    throw new PolicyRefusal(typeof message === 'string' && message !== '' ? message : 'refused by the broker\'s policy')
  }
}

export class PolicyCalls {
  private readonly policy: Policy
  private readonly logger: LoggerPort
  private readonly brokerSecrets: string[]

  /** `brokerSecrets`: values that must never appear in a log line (the credentials secrets). */
  constructor (policy: Policy, logger: LoggerPort, brokerSecrets: string[]) {
    this.policy = policy
    this.logger = logger
    this.brokerSecrets = brokerSecrets
  }

  get predictableCredentials (): boolean {
    return this.policy.predictableCredentials
  }

  databaseName (instance: InstanceData): string {
    return this.call('databaseName', [], () => this.policy.databaseName({ ...instance, ...tools }), value =>
      typeof value === 'string' && value !== '' ? undefined : 'must return a non-empty string') as string
  }

  clusterName (instance: InstanceData): string {
    return this.call('clusterName', [], () => this.policy.clusterName({ ...instance, ...tools } satisfies InstanceFacts), value =>
      typeof value === 'string' && CLUSTER_NAME.test(value) ? undefined : `must return 1-23 characters matching ${CLUSTER_NAME.source}`) as string
  }

  projectName (instance: InstanceData): string {
    return this.call('projectName', [], () => this.policy.projectName({ ...instance, ...tools } satisfies InstanceFacts), value =>
      typeof value === 'string' && PROJECT_NAME.test(value) ? undefined : `must return 1-64 characters matching ${PROJECT_NAME.source}`) as string
  }

  username (binding: BindingData): string {
    return this.call('username', [], () => this.policy.username({ ...binding, ...tools }), value =>
      typeof value === 'string' && value.length > 0 && value.length <= 1024 ? undefined : 'must return a non-empty string of at most 1024 characters') as string
  }

  roles (binding: BindingData): DatabaseRole[] {
    return this.call('roles', [], () => this.policy.roles({ ...binding, ...tools }), value =>
      Array.isArray(value) && value.length > 0 && value.every(isRole)
        ? undefined
        : 'must return a non-empty array of { roleName, databaseName, collectionName? } with string values') as DatabaseRole[]
  }

  /** The binding's password; `derive` is the broker's derivation, whose results are scrubbed like secrets. */
  password (binding: BindingData, derive: (purpose?: string) => string): string {
    const derived: string[] = []
    return this.call('password', derived, () => this.policy.password({
      ...binding, ...tools, derive: (purpose?: string) => { const value = derive(purpose); derived.push(value); return value }
    }), value => typeof value === 'string' && value.length >= 8 ? undefined : 'must return a string of at least 8 characters (Atlas minimum)') as string
  }

  bindingAuth (binding: BindingData): DatabaseUserAuth {
    return this.call('bindingAuth', [], () => this.policy.bindingAuth({ ...binding, ...tools }), value =>
      typeof value === 'string' && (DATABASE_USER_AUTHS as readonly string[]).includes(value) ? undefined : `must return one of ${DATABASE_USER_AUTHS.join(', ')}`) as DatabaseUserAuth
  }

  bindingLifetimeHours (binding: BindingData): number | undefined {
    return this.call('bindingLifetimeHours', [], () => this.policy.bindingLifetimeHours({ ...binding, ...tools }), value =>
      value === undefined || (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 168)
        ? undefined
        : 'must return undefined or a whole number of hours from 1 to 168 (Atlas keeps temporary users a week at most)') as number | undefined
  }

  /** The credentials hook; `secrets` (the password, a private key) are scrubbed from anything it throws. */
  credentials (binding: BindingData, username: string, password: string | undefined, base: JsonObject, secrets: string[]): JsonObject {
    const facts = { ...binding, ...tools, username, ...(password === undefined ? {} : { password }) }
    return this.call('credentials', secrets, () => this.policy.credentials(facts, base), value =>
      isPlainObject(value) && isJson(value, 0) ? undefined : 'must return a plain object of JSON values (no arrays at the top, class instances, functions or undefined)') as JsonObject
  }

  /** Runs one hook; `check` says what is wrong with its result (undefined: nothing). */
  private call (hook: PolicyHook, secrets: string[], run: () => unknown, check: (value: unknown) => string | undefined): unknown {
    let value: unknown
    try {
      value = run()
    } catch (err) {
      if (isPolicyRefusal(err)) throw new BadRequestError(redact(err.message, this.secretsWith(secrets)))
      throw this.failure(hook, secrets, err instanceof Error ? (err.stack ?? err.message) : `threw ${String(err)}`)
    }
    if (typeof (value as { then?: unknown } | null)?.then === 'function') {
      // A rejected promise must not surface later as an unhandled rejection.
      void (value as Promise<unknown>).then(undefined, () => undefined)
      throw this.failure(hook, secrets, 'returned a Promise: hooks are synchronous')
    }
    const problem = check(value)
    if (problem !== undefined) throw this.failure(hook, secrets, problem)
    return value
  }

  private failure (hook: PolicyHook, secrets: string[], detail: string): PolicyError {
    const error = new PolicyError(hook, redact(detail, this.secretsWith(secrets)))
    this.logger.error({ hook, detail: error.detail }, 'policy hook failed')
    return error
  }

  private secretsWith (secrets: string[]): string[] {
    return [...this.brokerSecrets, ...secrets]
  }
}

function isRole (value: unknown): boolean {
  if (!isPlainObject(value)) return false
  const role = value as Record<string, unknown>
  return typeof role.roleName === 'string' && role.roleName !== '' && typeof role.databaseName === 'string' && role.databaseName !== '' &&
    (role.collectionName === undefined || typeof role.collectionName === 'string')
}

function isPlainObject (value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** A value JSON carries unchanged (depth-bounded). */
function isJson (value: unknown, depth: number): boolean {
  if (depth > 32) return false
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true
  if (typeof value === 'number') return Number.isFinite(value)
  if (Array.isArray(value)) return value.every(item => isJson(item, depth + 1))
  return isPlainObject(value) && Object.values(value as object).every(item => isJson(item, depth + 1))
}

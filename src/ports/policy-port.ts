/**
 * PolicyPort: the decisions an operator may want to make differently — database names, usernames,
 * passwords, roles and the credentials object — as hooks. The seed did this by subclassing `Config`;
 * here each `policies/*.ts` file default-exports a PolicyPlugin that overrides the hooks it defines.
 */
import type { DatabaseUserAuth } from './atlas-port.js'
import type { JsonObject } from './service-broker.js'
import type { DatabaseRole } from './storage-port.js'

/**
 * Given to every hook. `refuse(message)` ends the request with 400 and `message` as its description (shown to
 * end users by Cloud Foundry): the way for a policy to say no. It needs no import, so it works from a policy
 * folder mounted anywhere. Anything else a hook throws is a 500 that names only the hook.
 */
export interface PolicyTools {
  refuse(message: string): never
}

export interface InstanceData {
  instanceId: string
  serviceId: string
  planId: string
  organizationGuid: string
  spaceGuid: string
  parameters: JsonObject
  context: JsonObject
}

export interface InstanceFacts extends InstanceData, PolicyTools {}

export interface BindingFacts extends PolicyTools {
  bindingId: string
  instanceId: string
  serviceId: string
  planId: string
  parameters: JsonObject
  context: JsonObject
  /** The instance's database and cluster, as provisioned. */
  database: string
  cluster: string
  instance: InstanceData
  /** Binding rotation: the binding this one replaces, when the platform rotates credentials. */
  predecessorBindingId?: string
  /** The binding being replaced (rotation): its user and roles. The built-in roles hook gives the same roles. */
  predecessor?: { bindingId: string, username: string, roles: DatabaseRole[], auth: DatabaseUserAuth }
  /**
   * How the user is to authenticate, as asked: the `auth` parameter, else the predecessor's, else the plan's
   * default (scram: a password; aws-iam, x509, oidc: none). The `bindingAuth` hook decides.
   */
  auth: DatabaseUserAuth
  /** Expiring credentials as asked (the `expiresInHours` parameter, else the plan's), in hours. The `bindingLifetimeHours` hook decides. */
  lifetimeHours?: number
}

export interface PasswordFacts extends BindingFacts {
  /**
   * A password derived (HMAC-SHA-256) from the broker's credentials secret, the binding id and `purpose`:
   * the same inputs always give the same password, so it never needs storing.
   */
  derive(purpose?: string): string
}

export interface CredentialFacts extends BindingFacts {
  username: string
  /** Absent for passwordless bindings (aws-iam, x509, oidc). */
  password?: string
}

/** The hooks. Every policy file may define any subset of them. */
export interface Policy {
  /** The database an instance gets when `parameters.database` is absent. */
  databaseName(instance: InstanceFacts): string
  /**
   * The Atlas cluster name of an instance of a cluster plan: the same for the same instance every time,
   * unique in the project, `^[a-zA-Z0-9][a-zA-Z0-9-]*$`, at most 23 characters (Atlas derives host names from them).
   */
  clusterName(instance: InstanceFacts): string
  /**
   * The Atlas project of an instance of a project-per-instance plan: the same for the same instance every time,
   * unique in the organisation, 1-64 letters, digits, spaces, `_ . ( ) -`.
   */
  projectName(instance: InstanceFacts): string
  /** The Atlas database username of a binding (unique per binding). */
  username(binding: BindingFacts): string
  /** The binding's password (Atlas requires at least 8 characters). */
  password(binding: PasswordFacts): string
  /** The roles of the binding's user; for a rotation the built-in gives the predecessor's (`binding.predecessor.roles`). */
  roles(binding: BindingFacts): DatabaseRole[]
  /**
   * How the binding's user authenticates: `binding.auth` is what the bind asked for. The answer must be a
   * kind the plan allows (`atlas.bindingAuth`) whose parameters the bind gave, or the bind is a 400.
   */
  bindingAuth(binding: BindingFacts): DatabaseUserAuth
  /** Hours until the binding's credentials expire (1 to 168), or undefined for none; `binding.lifetimeHours` is what was asked. */
  bindingLifetimeHours(binding: BindingFacts): number | undefined
  /** Extra or changed credential fields; receives the broker's credentials and returns the ones to send. */
  credentials(binding: CredentialFacts, credentials: JsonObject): JsonObject
  /**
   * True when `password` gives the same answer for the same binding every time (so the broker need not
   * store it). A plugin that overrides `password` without saying so is taken as unpredictable.
   */
  predictableCredentials: boolean
}

export type PolicyHook = keyof Policy
export const POLICY_HOOKS = [
  'databaseName', 'clusterName', 'projectName', 'username', 'password', 'roles', 'bindingAuth', 'bindingLifetimeHours', 'credentials', 'predictableCredentials'
] as const satisfies readonly PolicyHook[]

/** What a policy file default-exports. */
export type PolicyPlugin = Partial<Policy>

/** A loaded policy with, for each hook, where it came from (a file path or "built-in"). */
export interface LoadedPolicy {
  policy: Policy
  sources: Record<PolicyHook, string>
}

/** A policy file failed to load or has the wrong shape; start-up stops. */
export class PolicyLoadError extends Error {
  readonly code = 'POLICY_LOAD_ERROR'
  readonly file: string
  constructor (file: string, message: string, options?: { cause?: unknown }) {
    super(`policy ${file}: ${message}`, options)
    this.file = file
    this.name = 'PolicyLoadError'
  }
}

/**
 * A policy hook threw or returned something unusable at run time. `message` names only the hook (it reaches
 * the platform); `detail` says what went wrong, scrubbed of secrets, for the log. The hook's own error is not
 * kept as `cause`: its text and stack may carry a password.
 */
export class PolicyError extends Error {
  readonly code = 'POLICY_ERROR'
  readonly hook: PolicyHook
  readonly detail: string
  constructor (hook: PolicyHook, detail: string) {
    super(`policy hook ${hook} failed`)
    this.hook = hook
    this.detail = detail
    this.name = 'PolicyError'
  }
}

/**
 * A policy's decision to refuse the request: 400 with `message`. Hooks call `facts.refuse(message)`; throwing
 * `new PolicyRefusal(message)` (imported from the package) does the same. Recognised by `code`, so a copy of
 * the class loaded from another place works too.
 */
export class PolicyRefusal extends Error {
  readonly code = 'POLICY_REFUSED'
  constructor (message: string) {
    super(message)
    this.name = 'PolicyRefusal'
  }
}

export function isPolicyRefusal (err: unknown): err is Error {
  return err instanceof Error && (err as { code?: unknown }).code === 'POLICY_REFUSED'
}

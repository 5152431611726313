/**
 * The python-atlasbroker README's `CustomConfig`, as a policy file:
 *
 *     class CustomConfig(Config):
 *         PARAMETER_NAMESPACE = "ns"
 *         def generate_binding_username(self, binding): return binding.binding_id + '-rw'
 *         def generate_instance_dbname(self, instance): return instance.parameters[self.PARAMETER_NAMESPACE]
 *
 * To enable it, copy it to `policies/` (e.g. `policies/10-seed-custom-config.ts`). The database name comes
 * from the `ns` instance parameter, else from the Kubernetes namespace in the OSB context. The default
 * catalog accepts only `cluster` and `database` as parameters: to use `ns`, serve `examples/catalog-seed-ns.json`
 * (CATALOG_FILE), whose plan schema allows it; the namespace fallback works as is.
 */
import type { PolicyPlugin } from 'atlas-broker'

const PARAMETER_NAMESPACE = 'ns'

const policy: PolicyPlugin = {
  username: binding => `${binding.bindingId}-rw`,

  databaseName: instance => {
    const fromParameter = instance.parameters[PARAMETER_NAMESPACE]
    const fromContext = instance.context.platform === 'kubernetes' ? instance.context.namespace : undefined
    const name = typeof fromParameter === 'string' && fromParameter !== '' ? fromParameter : fromContext
    if (typeof name !== 'string' || name === '') {
      return instance.refuse(`give the '${PARAMETER_NAMESPACE}' parameter or provision from a Kubernetes namespace`)
    }
    return name
  }
}

export default policy

/**
 * ParameterValidator on Ajv. Plan schemas may declare draft-04 to draft-07 in `$schema` (OSB B11); Ajv
 * validates them with its draft-07 semantics, which agree on everything our catalogs use. Ajv is loaded at the
 * first plan schema to check, not at start-up: a catalog without plan schemas never needs it.
 */
import { createRequire } from 'node:module'
// `import type`: erased from the output, so this module does not load Ajv (`import { type X }` would, under verbatimModuleSyntax).
import type { Ajv, ValidateFunction } from 'ajv'
import type { ParameterValidator } from '../../ports/parameter-validator-port.js'
import type { JsonObject } from '../../ports/service-broker.js'

const require = createRequire(import.meta.url)

export class AjvParameterValidator implements ParameterValidator {
  private ajv: Ajv | undefined
  private readonly compiled = new Map<string, ValidateFunction>()

  validate (schema: JsonObject, value: unknown): string[] {
    const key = JSON.stringify(schema)
    let check = this.compiled.get(key)
    if (check === undefined) {
      const { $schema: _ignored, ...rest } = schema
      check = this.compiler().compile(rest)
      this.compiled.set(key, check)
    }
    if (check(value)) return []
    return (check.errors ?? []).map(e => {
      const where = e.instancePath === '' ? 'parameters' : `parameters${e.instancePath.replaceAll('/', '.')}`
      const extra = e.keyword === 'additionalProperties' ? ` '${String(e.params.additionalProperty)}'` : ''
      return `${where} ${e.message ?? 'is invalid'}${extra}`
    })
  }

  private compiler (): Ajv {
    if (this.ajv === undefined) {
      const { Ajv: AjvClass } = require('ajv') as { Ajv: new (options: Record<string, unknown>) => Ajv }
      this.ajv = new AjvClass({ allErrors: true, strict: false, coerceTypes: false, useDefaults: false })
    }
    return this.ajv
  }
}

/**
 * ParameterValidator on Ajv. Plan schemas may declare draft-04 to draft-07 in `$schema` (OSB B11); Ajv
 * validates them with its draft-07 semantics, which agree on everything our catalogs use.
 */
import { Ajv, type ValidateFunction } from 'ajv'
import { type ParameterValidator } from '../../ports/parameter-validator-port.js'
import { type JsonObject } from '../../ports/service-broker.js'

export class AjvParameterValidator implements ParameterValidator {
  private readonly ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: false, useDefaults: false })
  private readonly compiled = new Map<string, ValidateFunction>()

  validate (schema: JsonObject, value: unknown): string[] {
    const key = JSON.stringify(schema)
    let check = this.compiled.get(key)
    if (check === undefined) {
      const { $schema: _ignored, ...rest } = schema
      check = this.ajv.compile(rest)
      this.compiled.set(key, check)
    }
    if (check(value)) return []
    return (check.errors ?? []).map(e => {
      const where = e.instancePath === '' ? 'parameters' : `parameters${e.instancePath.replaceAll('/', '.')}`
      const extra = e.keyword === 'additionalProperties' ? ` '${String(e.params.additionalProperty)}'` : ''
      return `${where} ${e.message ?? 'is invalid'}${extra}`
    })
  }
}

/** ParameterValidator: checks OSB `parameters` against a plan's JSON schema (draft-04 or later). */
import type { JsonObject } from './service-broker.js'

export interface ParameterValidator {
  /** Returns human-readable problems; an empty list means valid. */
  validate(schema: JsonObject, value: unknown): string[]
}

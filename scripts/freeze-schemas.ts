/**
 * Schema modules as plain data. TypeBox builds the broker's JSON schemas (and, through `Static`, their types),
 * but loading it costs a compiled broker about 20 MB of resident memory and 700 module loads for objects that
 * never change. The build therefore evaluates each module listed here once and writes its exports back as
 * JSON literals: the compiled broker reads the same schemas without loading TypeBox, and its declaration files
 * (the types) are TypeBox's, unchanged.
 */
import { isDeepStrictEqual } from 'node:util'

/** Modules (paths under src/ and dist/, as compiled) whose exports are schemas and other plain data. */
export const FROZEN_MODULES = ['adapters/http/schemas.js', 'app/config-schema.js']

/**
 * The source of a module exporting the same values as `exports`, as JSON literals. Throws when a value is
 * not plain JSON (a function, a class, undefined, a non-finite number), which the module would lose.
 */
export function frozenModuleSource (exports: Record<string, unknown>, from: string): string {
  const lines = [`// Built from ${from}: its exports as plain data, so that TypeBox is not loaded at run time.`]
  for (const [name, value] of Object.entries(exports).sort(([a], [b]) => a.localeCompare(b))) {
    const json = JSON.stringify(value)
    if (json === undefined || !isDeepStrictEqual(JSON.parse(json), value)) {
      throw new Error(`${from}: export ${name} is not plain JSON data and cannot be frozen`)
    }
    lines.push(`export const ${name} = ${json};`)
  }
  return lines.join('\n') + '\n'
}

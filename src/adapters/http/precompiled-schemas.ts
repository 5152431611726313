/**
 * Route schemas compiled when the broker is built, not at every start. Fastify compiles each route's request
 * schemas with Ajv and its response schemas with fast-json-stringify as it starts: on the compiled broker
 * that was about 150 ms of its start-up and 7 MB of its resident memory, for code that is the same on every
 * start. So `npm run build` writes the compiled code of every route schema into one module beside the
 * compiled broker (scripts/precompile-schemas.ts, with those compilers' own standalone modes and the options
 * below), and `routeSchemaCompilers` hands Fastify those functions. A schema the module lacks (changed or
 * added since the build) is compiled at start-up by Fastify's own compilers, loaded only then, so an
 * outdated module costs time, never correctness: code is looked up by its schema, not by its route.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { FastifyServerOptions } from 'fastify'

/**
 * Ajv options of request validation. Coercion off: a wrong JSON type is a 400, not silently converted. Never
 * `removeAdditional: 'all'` (it would empty OSB's free-form `parameters`); `true` only strips where a schema
 * forbids extra fields.
 */
export const ROUTE_AJV_OPTIONS = { coerceTypes: false, removeAdditional: true, allErrors: false } as const

export type CompiledKind = 'validator' | 'serializer'

/**
 * A compiled function's key: what it compiles (its kind, the options it was compiled with, the schema), not
 * where it is used. Response schemas are compiled with fast-json-stringify's defaults, as Fastify does.
 */
export function compiledSchemaKey (kind: CompiledKind, schema: unknown): string {
  const options = kind === 'validator' ? ROUTE_AJV_OPTIONS : {}
  return `${kind}:${createHash('sha256').update(JSON.stringify([options, schema])).digest('base64url').slice(0, 24)}`
}

/** The build's module: for each key, a function that evaluates that compiled code when first asked for. */
export type PrecompiledSchemas = Readonly<Record<string, () => unknown>>

/** How many route schemas came from the build and how many were compiled at start-up. */
export interface CompiledCounts { precompiled: number, compiledAtStart: number }

type SchemaController = NonNullable<FastifyServerOptions['schemaController']>
type Factories = Required<NonNullable<SchemaController['compilersFactory']>>

const require = createRequire(import.meta.url)

/**
 * Fastify's `schemaController` for a build's precompiled schemas, and the counts it keeps. Fastify's own
 * compilers are required only when a schema is missing, with the same options the build used.
 */
export function routeSchemaCompilers (precompiled: PrecompiledSchemas): { schemaController: SchemaController, counts: CompiledCounts } {
  const counts: CompiledCounts = { precompiled: 0, compiledAtStart: 0 }
  // Routes sharing a schema share its function, as they do with Fastify's compilers (Ajv caches by schema).
  const restored = new Map<string, unknown>()
  const lookUp = <F>(kind: CompiledKind, schema: unknown, compile: () => F): F => {
    const key = compiledSchemaKey(kind, schema)
    const restore = precompiled[key]
    if (restore === undefined) {
      counts.compiledAtStart++
      return compile()
    }
    counts.precompiled++
    if (!restored.has(key)) restored.set(key, restore())
    return restored.get(key) as F
  }
  const buildValidator: Factories['buildValidator'] = (externalSchemas, ajvOptions) => {
    let fallback: ReturnType<Factories['buildValidator']> | undefined
    return route => lookUp('validator', route.schema, () => {
      const ajvCompiler = require('@fastify/ajv-compiler') as () => Factories['buildValidator']
      fallback ??= ajvCompiler()(externalSchemas, ajvOptions)
      return fallback(route)
    })
  }
  const buildSerializer: Factories['buildSerializer'] = (externalSchemas, serializerOptions) => {
    let fallback: ReturnType<Factories['buildSerializer']> | undefined
    return route => lookUp('serializer', route.schema, () => {
      const { SerializerSelector } = require('@fastify/fast-json-stringify-compiler') as { SerializerSelector: () => Factories['buildSerializer'] }
      fallback ??= SerializerSelector()(externalSchemas, serializerOptions)
      return fallback(route)
    })
  }
  return { schemaController: { compilersFactory: { buildValidator, buildSerializer } }, counts }
}

/** The module the build wrote beside this one's compiled copy, or undefined (running from the sources). */
export function loadPrecompiledSchemas (): PrecompiledSchemas | undefined {
  const file = fileURLToPath(new URL(PRECOMPILED_MODULE, import.meta.url))
  return existsSync(file) ? require(file) as PrecompiledSchemas : undefined
}

/** Its name, relative to this module (scripts/precompile-schemas.ts writes it). */
export const PRECOMPILED_MODULE = './precompiled-schemas.generated.cjs'

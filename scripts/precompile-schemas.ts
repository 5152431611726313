/**
 * The build's precompiled route schemas (src/adapters/http/precompiled-schemas.ts says why and how they are
 * used). Builds the broker's HTTP app once with Fastify's own compilers in their standalone modes, which
 * return each compiled function's source, and writes them into one CommonJS module: for each schema's key, a
 * function that evaluates its code when first called.
 */
import { createRequire } from 'node:module'
import { pino } from 'pino'
import { compiledSchemaKey, type CompiledKind } from '../src/adapters/http/precompiled-schemas.js'
import { buildApp } from '../src/app/build-app.js'
import type { ServiceBroker } from '../src/ports/service-broker.js'

const require = createRequire(import.meta.url)

interface StandaloneOptions { readMode: false, storeFunction: (route: RouteSchema, code: string) => void }
interface RouteSchema { schema: unknown, method: string, url: string, httpPart?: string }
type Compiler = (externalSchemas: Record<string, unknown>, options?: Record<string, unknown>) => (route: RouteSchema) => unknown

/** The source of the module holding the compiled code of every route schema the broker's app has. */
export async function precompiledSchemasSource (): Promise<string> {
  const compiled = new Map<string, string>()
  const recording = (kind: CompiledKind, standalone: (options: StandaloneOptions) => Compiler, extra: Record<string, unknown> = {}): Compiler =>
    (externalSchemas, options = {}) => {
      if (Object.keys(externalSchemas).length > 0) throw new Error('precompile-schemas: shared schemas (addSchema) are not supported')
      let key = ''
      const compile = standalone({ readMode: false, storeFunction: (_route, code) => { compiled.set(key, code) } })(externalSchemas, { ...options, ...extra })
      return route => {
        // Fastify lowercases header schemas for its own compiler only: the broker's routes declare none.
        if (route.httpPart === 'headers') throw new Error(`precompile-schemas: ${route.method} ${route.url} has a headers schema`)
        key = compiledSchemaKey(kind, route.schema)
        return compile(route)
      }
    }
  const { StandaloneSerializer } = require('@fastify/fast-json-stringify-compiler') as { StandaloneSerializer: (options: StandaloneOptions) => Compiler }
  const StandaloneValidator = require('@fastify/ajv-compiler/standalone') as (options: StandaloneOptions) => Compiler
  const app = await buildApp({
    // Building the routes reads only the catalog; no request is made.
    broker: { catalog: () => ({ services: [] }) } as unknown as ServiceBroker,
    credentials: { username: 'build', password: 'build' },
    logger: pino({ level: 'silent' }),
    routeSchemas: {
      schemaController: {
        compilersFactory: {
          buildValidator: recording('validator', StandaloneValidator) as never,
          // Validators of anyOf branches inlined, so that serializing loads no Ajv either.
          buildSerializer: recording('serializer', StandaloneSerializer, { inlineValidators: true }) as never
        }
      }
    }
  })
  await app.ready()
  await app.close()
  const entries = [...compiled].sort(([a], [b]) => a.localeCompare(b))
    .map(([key, code]) => `  ${JSON.stringify(key)}: evaluated(function (module, exports) {\n${code}\n})`)
  return [
    '\'use strict\'',
    '// Built by scripts/precompile-schemas.ts: the compiled code of the broker\'s route schemas, by schema key.',
    'const evaluated = body => () => { const module = { exports: {} }; body(module, module.exports); return module.exports }',
    `module.exports = {\n${entries.join(',\n')}\n}`,
    ''
  ].join('\n')
}

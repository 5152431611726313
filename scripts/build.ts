/**
 * `npm run build`: compiles src/ into dist/ (or the folder given as the first argument) with
 * tsconfig.build.json, turns the schema modules into plain data (freeze-schemas.ts), writes the route schemas'
 * compiled code beside them (precompile-schemas.ts), checks that no compiled module imports TypeBox at run
 * time, and makes the CLI executable.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { PRECOMPILED_MODULE } from '../src/adapters/http/precompiled-schemas.js'
import { FROZEN_MODULES, frozenModuleSource } from './freeze-schemas.js'
import { precompiledSchemasSource } from './precompile-schemas.js'

const root = path.resolve(import.meta.dirname, '..')
const outDir = path.resolve(process.argv[2] ?? path.join(root, 'dist'))

rmSync(outDir, { recursive: true, force: true })
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json'), '--outDir', outDir], { cwd: root, stdio: 'inherit' })

for (const module of FROZEN_MODULES) {
  // Evaluated from the source (this script runs under tsx): the compiled copy may sit where TypeBox cannot be resolved.
  const from = `src/${module.replace(/\.js$/, '.ts')}`
  const exports = await import(pathToFileURL(path.join(root, from)).href) as Record<string, unknown>
  const file = path.join(outDir, module)
  writeFileSync(file, frozenModuleSource({ ...exports }, from))
  rmSync(`${file}.map`, { force: true })
}

writeFileSync(path.join(outDir, 'adapters/http', PRECOMPILED_MODULE), await precompiledSchemasSource())

const loadsTypebox = readdirSync(outDir, { recursive: true, encoding: 'utf8' })
  .filter(file => file.endsWith('.js') && /\bfrom ['"]typebox(\/[^'"]*)?['"]|import\(['"]typebox/.test(readFileSync(path.join(outDir, file), 'utf8')))
if (loadsTypebox.length > 0) {
  console.error(`build: these compiled modules load TypeBox at run time; make their schemas a frozen module (scripts/freeze-schemas.ts): ${loadsTypebox.join(', ')}`)
  process.exit(1)
}
chmodSync(path.join(outDir, 'app/cli.js'), 0o755)

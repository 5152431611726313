/**
 * The build's frozen schema modules: the same exports as the TypeBox modules they come from, as plain data
 * with no imports (so the compiled broker never loads TypeBox), and a refusal for anything that is not data.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { FROZEN_MODULES, frozenModuleSource } from '../../scripts/freeze-schemas.js'

const dir = mkdtempSync(path.join(tmpdir(), 'frozen-'))

for (const module of FROZEN_MODULES) {
  t.test(`${module}: frozen, it exports the same data and imports nothing`, async t => {
    const source = await import(`../../src/${module.replace(/\.js$/, '.ts')}`) as Record<string, unknown>
    const text = frozenModuleSource({ ...source }, module)
    t.notMatch(text, /\bimport\b/, 'no imports')
    const file = path.join(dir, module.replaceAll('/', '-').replace(/\.js$/, '.mjs'))
    writeFileSync(file, text)
    const frozen = await import(pathToFileURL(file).href) as Record<string, unknown>
    t.same(Object.keys(frozen).sort(), Object.keys(source).sort(), 'the same exports')
    for (const [name, value] of Object.entries(source)) {
      // What a validator sees: the enumerable data (TypeBox's own markers are not enumerable).
      t.strictSame(frozen[name], JSON.parse(JSON.stringify(value)), name)
    }
  })
}

t.test('what is not plain data is refused, by name', async t => {
  t.throws(() => frozenModuleSource({ check: () => true }, 'x.ts'), /export check is not plain JSON data/)
  t.throws(() => frozenModuleSource({ when: new Date(0) }, 'x.ts'), /export when is not plain JSON data/)
  t.throws(() => frozenModuleSource({ nothing: undefined }, 'x.ts'), /export nothing/)
  t.match(frozenModuleSource({ n: 1, s: 'a', o: { a: [1, null] } }, 'x.ts'), /export const o = \{"a":\[1,null\]\};/)
})

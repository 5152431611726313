/**
 * The entry points prepare the process (entry.ts: compile cache, one nextTick entry kept alive) before the
 * broker's modules load: they import nothing else statically, and load the rest after that step.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { prepareEntry } from '../../src/app/entry.js'
import { keepTickShape } from '../../src/app/tick-shape.js'

for (const entry of ['main.ts', 'cli.ts', 'dev.ts']) {
  t.test(`${entry}: prepared before the broker loads`, async t => {
    const source = readFileSync(new URL(`../../src/app/${entry}`, import.meta.url), 'utf8')
    const statics = [...source.matchAll(/^import .* from '([^']+)'$/gm)].map(m => m[1])
    t.ok(statics.every(from => from === './entry.js' || from === './tick-shape.js'), `static imports: ${statics.join(', ')}`)
    const prepared = source.search(/^await (prepareEntry|keepTickShape)\(\)$/m)
    t.ok(prepared > 0, 'the process is prepared')
    t.ok(source.indexOf('await import(') > prepared, 'the broker is imported after that')
  })
}

t.test('prepareEntry keeps the same nextTick entry as keepTickShape, however often it runs', async t => {
  await prepareEntry()
  await prepareEntry()
  const kept = await keepTickShape()
  t.equal(await keepTickShape(), kept)
})

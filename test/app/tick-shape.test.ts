/**
 * keepTickShape keeps one process.nextTick queue entry alive, so later entries keep sharing its hidden class
 * after full collections (the slow-nextTick effect it prevents is measured by `npm run bench`, not here).
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { keepTickShape } from '../../src/app/tick-shape.js'

const root = new URL('../..', import.meta.url).pathname

t.test('the kept object is a nextTick queue entry, and the same one on every call', async t => {
  const kept = await keepTickShape()
  t.same(Object.keys(kept), ['callback', 'args'])
  // Node 24 adds its async context frame beside the two ids.
  const symbols = Object.getOwnPropertySymbols(kept).map(s => s.description)
  for (const id of ['async_id_symbol', 'trigger_async_id_symbol']) t.ok(symbols.includes(id), id)
  t.equal(await keepTickShape(), kept)
})

t.test('entries made after full collections share the kept entry\'s hidden class (V8 natives, in a child process)', async t => {
  const script = `
    import { executionAsyncResource } from 'node:async_hooks'
    const { keepTickShape } = await import(${JSON.stringify(new URL('../../src/app/tick-shape.ts', import.meta.url).href)})
    const kept = await keepTickShape()
    const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)')
    const entry = () => new Promise(resolve => process.nextTick(() => resolve(executionAsyncResource())))
    const results = []
    for (let round = 0; round < 3; round++) {
      globalThis.gc()
      results.push(sameMap(kept, await entry()))
    }
    console.log(JSON.stringify(results))`
  const { stdout } = await promisify(execFile)(process.execPath, ['--allow-natives-syntax', '--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: root })
  t.same(JSON.parse(stdout.trim()), [true, true, true])
})

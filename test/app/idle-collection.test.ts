/**
 * The idle collection: one collection when an interval was idle and memory grew since the last one; never
 * while busy, never again for memory a collection could not give back. Its effect on resident memory is
 * measured by `npm run bench`, not here; a child process with --expose-gc checks it runs V8's real `gc`.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { IdleCollector, startIdleCollection } from '../../src/app/idle-collection.js'

const MB = 2 ** 20

/** A collector over scripted readings: each check takes the next busy share; collect() sets the resident size. */
function scripted (busy: number[], rss: { now: number, afterCollect: number }): { collector: IdleCollector, collections: () => number } {
  let collections = 0
  const collector = new IdleCollector({
    busySinceLastCall: () => busy.shift() ?? 0,
    residentBytes: () => rss.now,
    collect: () => { collections++; rss.now = rss.afterCollect }
  })
  return { collector, collections: () => collections }
}

t.test('the first idle interval collects (start-up grew the heap); a busy one does not', async t => {
  const rss = { now: 90 * MB, afterCollect: 80 * MB }
  const { collector, collections } = scripted([0.5, 0.002], rss)
  t.equal(collector.check(), undefined, 'busy: 50 % of the interval')
  t.equal(collections(), 0)
  t.match(collector.check(), { rssBeforeBytes: 90 * MB, rssAfterBytes: 80 * MB, ms: Number })
  t.equal(collections(), 1)
})

t.test('another collection only once memory has grown by 4 MB since the last one', async t => {
  const rss = { now: 90 * MB, afterCollect: 80 * MB }
  const { collector, collections } = scripted([], rss)
  collector.check()
  rss.now = 83 * MB
  t.equal(collector.check(), undefined, '3 MB above the mark')
  rss.now = 85 * MB
  rss.afterCollect = 81 * MB
  t.match(collector.check(), { rssBeforeBytes: 85 * MB, rssAfterBytes: 81 * MB })
  t.equal(collections(), 2)
})

t.test('memory a collection could not give back is not retried', async t => {
  const rss = { now: 120 * MB, afterCollect: 119 * MB }
  const { collector, collections } = scripted([], rss)
  collector.check()
  for (let i = 0; i < 5; i++) collector.check()
  t.equal(collections(), 1, 'the mark is what the collection left')
})

t.test('onCollected hears each collection', async t => {
  const heard: unknown[] = []
  const rss = { now: 90 * MB }
  const collector = new IdleCollector({ busySinceLastCall: () => 0, residentBytes: () => rss.now, collect: () => { rss.now = 70 * MB }, onCollected: c => heard.push(c) })
  collector.check()
  t.match(heard, [{ rssBeforeBytes: 90 * MB, rssAfterBytes: 70 * MB }])
})

t.test('without V8\'s gc exposed, nothing starts', { skip: typeof (globalThis as { gc?: unknown }).gc === 'function' ? 'this process runs with --expose-gc' : false }, async t => {
  t.equal(startIdleCollection(), undefined)
})

t.test('with --expose-gc: V8\'s collection runs on the timer, once while nothing grows, and stops when told (child process)', async t => {
  const script = `
    const { startIdleCollection } = await import(${JSON.stringify(new URL('../../src/app/idle-collection.ts', import.meta.url).href)})
    const heard = []
    const stop = startIdleCollection(c => heard.push(c), 200)
    // Keeps the process alive: the collection's timer does not.
    await new Promise(resolve => setTimeout(resolve, 1300))
    stop()
    console.log(JSON.stringify(heard))`
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url).pathname })
  const heard = JSON.parse(stdout.trim()) as Array<{ rssBeforeBytes: number, rssAfterBytes: number, ms: number }>
  t.equal(heard.length, 1, 'one collection: nothing grew after it')
  t.ok(heard[0]!.rssAfterBytes > 10 * MB && heard[0]!.rssAfterBytes < 1024 * MB, 'resident memory read')
  t.ok(heard[0]!.ms >= 0, 'its duration')
})

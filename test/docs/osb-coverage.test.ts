/**
 * docs/osb-coverage.md stays in step with the suite: it is what the generator makes of the tests now, every
 * rule has a test or a reason it does not apply, and (where the OSB checklist is at hand beside the checkout)
 * it lists exactly the checklist's rules.
 */
import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { coverage, coverageTable, RULES } from '../../scripts/osb-coverage.js'

const root = new URL('../..', import.meta.url).pathname
const CHECKLIST = new URL('../../../shared/specs/osb/CHECKLIST.md', import.meta.url)

t.test('the table is the one generated from the suite (npm run docs:config)', async t => {
  t.equal(readFileSync(new URL('../../docs/osb-coverage.md', import.meta.url), 'utf8'), coverageTable(root))
})

t.test('every rule has a test, or says why it does not apply', async t => {
  const covered = coverage(root)
  for (const [id, behaviour] of Object.entries(RULES)) {
    t.ok(covered.has(id) || behaviour.startsWith('n/a:'), `${id}: ${covered.get(id)?.join('; ') ?? behaviour}`)
  }
})

if (!existsSync(CHECKLIST)) {
  t.comment(`skipped: the OSB checklist is not at ${CHECKLIST.pathname}, so the table's rules cannot be compared with it`)
} else {
  t.test('the table lists exactly the checklist\'s rules', async t => {
    const ids = [...readFileSync(CHECKLIST, 'utf8').matchAll(/^- ([A-Z]\d{1,2}) /gm)].map(m => m[1])
    t.same(Object.keys(RULES).sort(), [...ids].sort())
  })
}

/** The hexagon's dependency rules are enforced by ESLint (CI runs it): prove each rule fires. */
import t from 'tap'
import { ESLint } from 'eslint'

const root = new URL('../..', import.meta.url).pathname
const eslint = new ESLint({ cwd: root })

async function problems (file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}${file}` })
  return (result?.messages ?? []).filter(m => m.ruleId === 'no-restricted-imports').map(m => m.message)
}

t.test('src/domain imports only src/ports, domain files and node: built-ins', async t => {
  t.equal((await problems('src/domain/x.ts', "import { fastify } from 'fastify'\nexport const x = fastify\n")).length, 1)
  t.equal((await problems('src/domain/x.ts', "import { MongoClient } from 'mongodb'\nexport const x = MongoClient\n")).length, 1)
  t.equal((await problems('src/domain/x.ts', "import { MemoryStorage } from '../adapters/storage/memory-storage.js'\nexport const x = MemoryStorage\n")).length, 1)
  t.equal((await problems('src/domain/x.ts', "import { loadConfig } from '../app/config.js'\nexport const x = loadConfig\n")).length, 1)
  t.same(await problems('src/domain/x.ts', "import { randomUUID } from 'node:crypto'\nimport { BadRequestError } from '../ports/service-broker.js'\nimport { jsonEqual } from './equality.js'\nexport const x = [randomUUID, BadRequestError, jsonEqual]\n"), [])
})

t.test('src/ports import only ports; adapters never import domain or app', async t => {
  t.equal((await problems('src/ports/x.ts', "import { AtlasBroker } from '../domain/broker.js'\nexport const x = AtlasBroker\n")).length, 1)
  t.equal((await problems('src/ports/x.ts', "import { Type } from 'typebox'\nexport const x = Type\n")).length, 1)
  t.equal((await problems('src/adapters/http/x.ts', "import { AtlasBroker } from '../../domain/broker.js'\nexport const x = AtlasBroker\n")).length, 1)
  t.equal((await problems('src/adapters/http/x.ts', "import { buildApp } from '../../app/build-app.js'\nexport const x = buildApp\n")).length, 1)
})

t.test('the whole tree passes the rules today', async t => {
  const results = await eslint.lintFiles(['src'])
  const violations = results.flatMap(r => r.messages.filter(m => m.ruleId === 'no-restricted-imports').map(m => `${r.filePath}: ${m.message}`))
  t.same(violations, [])
})

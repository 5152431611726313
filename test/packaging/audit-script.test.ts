/** scripts/audit.sh (CI's dependency audit) judges npm audit's answer: fail on advisories, skip only when npm could not ask. */
import { execFile } from 'node:child_process'
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'

const run = promisify(execFile)
const script = new URL('../../scripts/audit.sh', import.meta.url).pathname

/** Runs the script with a stand-in `npm` that prints `output` and exits with `status`. */
async function audit (output: string, status: number): Promise<{ code: number, stdout: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'audit-'))
  writeFileSync(path.join(dir, 'npm'), `#!/usr/bin/env bash\ncat <<'OUT'\n${output}\nOUT\nexit ${status}\n`)
  chmodSync(path.join(dir, 'npm'), 0o755)
  try {
    const { stdout } = await run('bash', [script], { env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` } })
    return { code: 0, stdout }
  } catch (err) {
    const e = err as { code: number, stdout: string }
    return { code: e.code, stdout: e.stdout }
  }
}

t.test('no advisory: passes', async t => {
  const r = await audit('found 0 vulnerabilities', 0)
  t.equal(r.code, 0)
  t.match(r.stdout, /no high or critical advisory/)
})

t.test('a high advisory: fails and shows it', async t => {
  const r = await audit('fastify  <5.7.2\nSeverity: high\n1 high severity vulnerability', 1)
  t.equal(r.code, 1)
  t.match(r.stdout, /Severity: high/)
  t.match(r.stdout, /high or critical advisories/)
})

t.test('the advisory endpoint refused (our registry): skipped with one line, not passed as clean', async t => {
  const r = await audit('npm warn audit 405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk\nnpm error audit endpoint returned an error', 1)
  t.equal(r.code, 0)
  t.match(r.stdout, /^audit: skipped, npm's advisory endpoint is not available/m)
  t.notMatch(r.stdout, /no high or critical advisory/)
})

/** The broker's constant-time credentials check: exact matches only, whatever the lengths involved. */
import t from 'tap'
import { CredentialsMatcher } from '../../../src/adapters/http/osb-hooks.js'

t.test('matches exactly the configured username and password', async t => {
  const m = new CredentialsMatcher({ username: 'broker', password: 'p4ssw0rd-long-enough' })
  t.ok(m.matches('broker', 'p4ssw0rd-long-enough'))
  t.notOk(m.matches('broker', 'p4ssw0rd-long-enoug'), 'a prefix')
  t.notOk(m.matches('broker', 'p4ssw0rd-long-enough!'), 'one byte longer')
  t.notOk(m.matches('broker', 'p4ssw0rd-long-enough\u0000'), 'a trailing NUL (the padding byte)')
  t.notOk(m.matches('broke', 'rp4ssw0rd-long-enough'), 'the separator moved')
  t.notOk(m.matches('', ''))
  t.notOk(m.matches('broker', 'x'.repeat(5000)), 'longer than the comparison buffer')
  t.ok(m.matches('broker', 'p4ssw0rd-long-enough'), 'still matches after longer attempts (scratch reset)')
})

t.test('non-ASCII and long secrets', async t => {
  const unicode = new CredentialsMatcher({ username: 'brøker', password: 'pässwörd-ü-🔑' })
  t.ok(unicode.matches('brøker', 'pässwörd-ü-🔑'))
  t.notOk(unicode.matches('broker', 'passwort-u-k'))
  const long = 'k'.repeat(300)
  const big = new CredentialsMatcher({ username: 'u', password: long })
  t.ok(big.matches('u', long), 'secrets longer than one 128-byte step')
  t.notOk(big.matches('u', long.slice(1)))
  t.notOk(big.matches('u', `${long}k`))
})

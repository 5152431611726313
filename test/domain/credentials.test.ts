/** Derived passwords, sealing, and connection strings that a driver can use as they are. */
import t from 'tap'
import { connectionUri, derivePassword, endpointsOf, seal, unseal } from '../../src/domain/credentials.js'

t.test('derived passwords are stable per secret and binding, different otherwise', async t => {
  const a = derivePassword('secret-1', 'b1')
  t.equal(a, derivePassword('secret-1', 'b1'))
  t.not(a, derivePassword('secret-2', 'b1'))
  t.not(a, derivePassword('secret-1', 'b2'))
  t.not(a, derivePassword('secret-1', 'b1', 'other'))
  t.match(a, /^[A-Za-z0-9_-]{43}$/)
})

t.test('seal/unseal round-trips and detects tampering or the wrong key', async t => {
  const sealed = seal('k1', 'p@ss word')
  t.not(sealed, seal('k1', 'p@ss word'), 'random IV')
  t.equal(unseal('k1', sealed), 'p@ss word')
  t.throws(() => unseal('k2', sealed))
  t.throws(() => unseal('k1', `${sealed.slice(0, -2)}AA`))
})

t.test('connection URIs carry credentials, database and authSource, keeping hosts and options', async t => {
  t.equal(connectionUri('mongodb+srv://cluster0.abcde.mongodb.net', 'u', 'p', 'db'),
    'mongodb+srv://u:p@cluster0.abcde.mongodb.net/db?authSource=admin&retryWrites=true&w=majority')
  t.equal(connectionUri('mongodb://h1:27017,h2:27017/?ssl=true&authSource=admin&replicaSet=rs0', 'u', 'p', 'db'),
    'mongodb://u:p@h1:27017,h2:27017/db?ssl=true&authSource=admin&replicaSet=rs0&w=majority')
  t.equal(connectionUri('mongodb+srv://c.mongodb.net', 'user/x', 'p:@/%?', 'd b'),
    'mongodb+srv://user%2Fx:p%3A%40%2F%25%3F@c.mongodb.net/d%20b?authSource=admin&retryWrites=true&w=majority')
  t.equal(connectionUri(undefined, 'u', 'p', 'db'), undefined)
  t.equal(connectionUri('not a uri', 'u', 'p', 'db'), undefined)
})

t.test('endpoints come from the standard connection string', async t => {
  t.same(endpointsOf('mongodb://h1:27017,h2:27018/?ssl=true'), [
    { host: 'h1', ports: ['27017'], protocol: 'tcp' }, { host: 'h2', ports: ['27018'], protocol: 'tcp' }
  ])
  t.equal(endpointsOf(undefined), undefined)
})

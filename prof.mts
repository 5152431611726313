// Measures catalog req/s of buildApp variants in-process with autocannon's API (quick A/B, not the bench).
import autocannon from 'autocannon'
import { pino } from 'pino'
import { buildApp } from '/work/main/src/app/build-app.ts'
import { makeBroker } from '/work/main/test/helpers/broker.ts'
import { BrokerMetrics } from '/work/main/src/adapters/metrics/prometheus-metrics.ts'
const variant = process.argv[2] ?? 'full'
const { broker } = makeBroker()
const app = await buildApp({ broker, credentials: { username: 'u', password: 'p-password-123' }, logger: pino({ level: 'warn' }), ...(variant === 'full' ? { metrics: { metrics: new BrokerMetrics(), public: false } } : {}) })
const url = await app.listen({ port: 0, host: '127.0.0.1' })
const r = await autocannon({ url: url + '/v2/catalog', connections: 32, duration: 4, headers: { authorization: 'Basic ' + Buffer.from('u:p-password-123').toString('base64'), 'x-broker-api-version': '2.17' } })
console.log(variant, Math.round(r.requests.average), 'non2xx', r.non2xx)
await app.close()

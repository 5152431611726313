/** The hand-kept OSB request counter and histogram render what prom-client would: cumulative `le` buckets. */
import t from 'tap'
import { OsbRequestMetrics } from '../../../src/adapters/metrics/prometheus-metrics.js'

t.test('counts by status and cumulative latency buckets, a value on a bound counting in that bucket', async t => {
  const metrics = new OsbRequestMetrics()
  const bind = metrics.forOperation('bind')
  bind.observe(201, 0.005)
  bind.observe(201, 0.2)
  bind.observe(409, 120)
  t.equal(metrics.forOperation('bind'), bind, 'one stats object per operation')
  const text = metrics.render()
  t.match(text, /atlas_broker_osb_requests_total\{operation="bind",status="201"\} 2\n/)
  t.match(text, /atlas_broker_osb_requests_total\{operation="bind",status="409"\} 1\n/)
  t.match(text, /_bucket\{le="0\.005",operation="bind"\} 1\n/)
  t.match(text, /_bucket\{le="0\.1",operation="bind"\} 1\n/)
  t.match(text, /_bucket\{le="0\.5",operation="bind"\} 2\n/)
  t.match(text, /_bucket\{le="60",operation="bind"\} 2\n/)
  t.match(text, /_bucket\{le="\+Inf",operation="bind"\} 3\n/)
  t.match(text, /_sum\{operation="bind"\} 120\.205\n/)
  t.match(text, /_count\{operation="bind"\} 3\n/)
  t.match(text, /# TYPE atlas_broker_osb_request_duration_seconds histogram/)
})

t.test('an operation never observed writes no samples, only the metric headers', async t => {
  const metrics = new OsbRequestMetrics()
  metrics.forOperation('catalog')
  const text = metrics.render()
  t.notMatch(text, /operation="catalog"/)
  t.match(text, /# TYPE atlas_broker_osb_requests_total counter/)
})

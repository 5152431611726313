/** The hand-kept metrics render valid Prometheus text, as prom-client would: cumulative `le` buckets, escaped labels. */
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

t.test('the whole /metrics text is valid Prometheus exposition: HELP and TYPE per metric, escaped labels, cumulative buckets', async t => {
  const { BrokerMetrics } = await import('../../../src/adapters/metrics/prometheus-metrics.js')
  const metrics = new BrokerMetrics()
  metrics.onAtlasExchange({ method: 'GET', path: '/groups/0123/clusters/c1/status', status: 200, attempt: 0, ms: 30 })
  metrics.onAtlasExchange({ method: 'GET', path: '/groups/0123/clusters/c1/status', status: 503, attempt: 1, ms: 3000 })
  metrics.onAtlasExchange({ method: 'POST', path: '/groups/0123/databaseUsers', status: undefined, attempt: 0, ms: 10 })
  metrics.onAuthFailure('limited')
  metrics.onAtlasReachability(false)
  const { contentType, body } = await metrics.render()
  t.match(contentType, /^text\/plain; version=0\.0\.4/)
  const declared = new Map<string, string>()
  for (const line of body.split('\n')) {
    if (line === '') continue
    const type = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(line)
    if (type !== null) { declared.set(type[1]!, type[2]!); continue }
    if (line.startsWith('# HELP ')) continue
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|NaN)$/.exec(line)
    if (sample === null) { t.fail(`not an exposition line: ${line}`); continue }
    const family = sample[1]!.replace(/_(bucket|sum|count)$/, '')
    if (!declared.has(sample[1]!) && !declared.has(family)) t.fail(`sample before its TYPE: ${line}`)
  }
  t.match(body, /atlas_broker_atlas_requests_total\{operation="GET \/groups\/\{group\}\/clusters\/\{name\}\/status",outcome="5xx"\} 1/)
  t.match(body, /atlas_broker_atlas_requests_total\{operation="POST \/groups\/\{group\}\/databaseUsers",outcome="network_error"\} 1/)
  t.match(body, /atlas_broker_atlas_retries_total\{operation="GET \/groups\/\{group\}\/clusters\/\{name\}\/status"\} 1/)
  t.match(body, /atlas_broker_atlas_request_duration_seconds_bucket\{le="0\.05",operation="GET [^"]+"\} 1\n/)
  t.match(body, /atlas_broker_atlas_request_duration_seconds_bucket\{le="\+Inf",operation="GET [^"]+"\} 2\n/)
  t.match(body, /atlas_broker_atlas_request_duration_seconds_count\{operation="GET [^"]+"\} 2\n/)
  t.match(body, /atlas_broker_auth_failures_total\{outcome="limited"\} 1/)
  t.match(body, /atlas_broker_atlas_up 0/)
  t.match(body, /process_resident_memory_bytes \d+/)
  t.match(body, /process_start_time_seconds \d+/)
})

'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const { Monitor, analyze } = require('..')

const MIN = 60_000
const CONFIG = {
  targets: [
    { name: 'latency', selector: 'latency_ms', detector: 'ewma(warmup=20)', interval: '5m' },
    { name: 'queries', selector: 'queries{service="checkout"}', detector: 'ewma(warmup=20)' },
  ],
}

function feed(m) {
  for (let minute = 0; minute < 60; minute++) {
    const t = minute * MIN
    const wobble = minute % 5
    const trouble = minute >= 40 && minute < 50
    m.ingest('latency_ms{service="checkout",host="a"}', t, trouble ? 900 : 120 + wobble)
    m.ingest('queries{service="checkout"}', t, minute >= 41 && minute < 50 ? 80 : 20 + wobble)
  }
}

test('alerts fire in the order the trouble started, grouped into one incident', () => {
  const m = new Monitor(CONFIG)
  feed(m)
  assert.equal(m.seriesCount, 2)
  const events = m.tick(60 * MIN)
  const fired = events.filter((e) => e.event === 'fired').map((e) => e.target)
  assert.deepEqual(fired, ['latency', 'queries'])
  const alert = events.find((e) => e.event === 'fired')
  assert.match(alert.series, /^latency_ms\{/)
  assert.equal(typeof alert.alert_id, 'number')
  assert.equal(typeof alert.verdict.anomaly_score, 'number')
  const incidents = m.incidents()
  assert.equal(incidents.length, 1)
  assert.equal(incidents[0].service, 'checkout')
  assert.deepEqual(incidents[0].signals.map((s) => s.metric), ['latency_ms', 'queries'])
  assert.equal(incidents[0].status, 'closed')
  assert.deepEqual(m.incident(incidents[0].id), incidents[0])
  assert.equal(m.incident(999), null)
})

test('the alert history: query, acknowledge, resolve', () => {
  const m = new Monitor(CONFIG)
  for (let minute = 0; minute < 45; minute++) {
    m.ingest('latency_ms{service="checkout"}', minute * MIN, minute >= 40 ? 900 : 120 + (minute % 5))
  }
  m.tick(45 * MIN)
  const open = m.alerts({ open_only: true })
  assert.equal(open.length, 1)
  assert.deepEqual(m.alerts({ target: 'queries' }), [])
  assert.deepEqual(m.alerts(), m.alerts({}))
  assert.throws(() => m.alerts({ nope: 1 }), { code: 'InvalidConfig' })
  const id = open[0].id
  assert.equal(m.acknowledge(id, 45 * MIN).acknowledged_at, 45 * MIN)
  assert.equal(m.alerts({ unacknowledged_only: true }).length, 0)
  const resolved = m.resolve(id, 46 * MIN)
  assert.equal(resolved.find((e) => e.event === 'resolved').resolution, 'manual')
  assert.throws(() => m.resolve(id, 47 * MIN), { code: 'AlertClosed' })
  assert.equal(m.alert(id).end, 46 * MIN)
})

test('targets are added, changed, disabled, listed and removed while running', () => {
  const m = new Monitor()
  assert.deepEqual(m.targets(), [])
  m.addTarget({ name: 'cpu', selector: 'cpu', detector: 'ewma' })
  assert.equal(m.target('cpu').detector, 'ewma')
  assert.equal(m.target('nope'), null)
  m.ingest('cpu{host="a"}', 0, 1)
  assert.equal(m.targets()[0].series, 1)
  m.setEnabled('cpu', false)
  assert.equal(m.target('cpu').enabled, false)
  assert.deepEqual(m.updateTarget({ name: 'cpu', selector: 'cpu', detector: 'mad' }), [])
  assert.equal(m.config().targets[0].detector, 'mad')
  assert.deepEqual(m.removeTarget('cpu'), [])
  assert.equal(m.targets().length, 0)
})

test('ingestBatch equals ingesting one by one; refused points change nothing', () => {
  const a = new Monitor(CONFIG)
  const b = new Monitor(CONFIG)
  const t = Array.from({ length: 60 }, (_, i) => i * MIN)
  const v = t.map((_, i) => (i >= 40 && i < 50 ? 900 : 120 + (i % 5)))
  a.ingestBatch('latency_ms{service="checkout"}', new Float64Array(v), t)
  t.forEach((ti, i) => b.ingest('latency_ms{service="checkout"}', ti, v[i]))
  assert.deepEqual(a.tick(60 * MIN), b.tick(60 * MIN))
  const before = a.snapshot()
  assert.throws(() => a.ingest('latency_ms{service="checkout"}', 0, 1), { code: 'OutOfOrder' })
  assert.throws(() => a.ingestBatch('latency_ms{service="checkout"}', [1, NaN], [61 * MIN, 62 * MIN]), { code: 'NonFiniteValue' })
  assert.equal(a.snapshot(), before)
})

test('snapshot and restore: identical behaviour afterwards', () => {
  const a = new Monitor(CONFIG)
  for (let minute = 0; minute < 42; minute++) a.ingest('latency_ms{service="checkout"}', minute * MIN, minute >= 40 ? 900 : 120 + (minute % 5))
  const b = Monitor.restore(a.snapshot())
  assert.equal(b.snapshot(), a.snapshot())
  for (let minute = 42; minute < 60; minute++) {
    for (const m of [a, b]) m.ingest('latency_ms{service="checkout"}', minute * MIN, minute < 50 ? 900 : 121)
  }
  assert.deepEqual(b.tick(60 * MIN), a.tick(60 * MIN))
  assert.deepEqual(new Monitor(JSON.stringify(CONFIG)).config(), new Monitor(CONFIG).config())
})

test('analyze judges one batch with no state', () => {
  const a = analyze([100, 105, 102, 98, 250, 103])
  assert.deepEqual(a.methods, ['batch_robust_z'])
  assert.deepEqual(a.points.filter((p) => p.anomaly).map((p) => p.index), [4])
  assert.equal(a.points[4].expected, 102)
  assert.equal(a.points[4].severity, 'high')
  assert.equal(a.points[4].verdicts[0].severity, 'medium')
  const b = analyze(new Float64Array(200).map((_, i) => 10 + (i % 3) + (i === 150 ? 40 : 0)), null, ['batch_robust_z', 'ewma'])
  assert.deepEqual(b.methods, ['batch_robust_z', 'ewma'])
  assert.equal(b.points[150].anomaly, true)
  assert.equal(b.points[150].verdicts.length, 2)
  assert.throws(() => analyze([1, 2], null, ['nope']), { code: 'InvalidSpec' })
})

'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const { Detector, DEFAULT_SPEC } = require('..')
const { series } = require('./rust.js')

const VERDICT_FIELDS = [
  'timestamp', 'value', 'expected', 'lower', 'upper', 'z', 'pValue', 'anomalyScore', 'isAnomaly',
  'direction', 'severity', 'severityScore', 'confidence', 'component', 'warm', 'notes',
]

function warm(d, n = 60) {
  for (let i = 0; i < n; i++) d.observe(100 + (i % 4), i * 1000)
}

test('observe returns a verdict with every core field, camelCase', () => {
  const d = new Detector('mad', { window: 60, warmup: 10 })
  warm(d)
  const v = d.observe(180, 60_000)
  assert.deepEqual(Object.keys(v).sort(), [...VERDICT_FIELDS].sort())
  assert.deepEqual(Object.keys(v.notes).sort(), ['excluded', 'fallback', 'gap', 'scaleFloored'])
  assert.equal(v.isAnomaly, true)
  assert.equal(v.direction, 'up')
  assert.ok(['low', 'medium', 'high', 'critical'].includes(v.severity))
  assert.equal(v.timestamp, 60_000)
  assert.equal(v.value, 180)
  assert.ok(v.anomalyScore > 0.5 && v.anomalyScore <= 1)
  assert.ok(v.lower <= v.expected && v.expected <= v.upper)
  assert.equal(v.warm, true)
  assert.equal(typeof v.component, 'string')
})

test('score judges without learning; update learns without judging', () => {
  const d = new Detector('ewma', { warmup: 5 })
  warm(d, 30)
  const before = d.snapshot()
  const a = d.score(500, 40_000)
  const b = d.score(500, 40_000)
  assert.deepEqual(a, b)
  assert.equal(d.snapshot(), before)
  assert.equal(d.update(101, 40_000), undefined)
  assert.notEqual(d.snapshot(), before)
  assert.equal(d.lastTimestamp, 40_000)
})

test('specifications: string, object, params merged, durations as strings', () => {
  const defaultKind = new Detector(DEFAULT_SPEC).kind
  assert.equal(new Detector().kind, defaultKind)
  assert.equal(new Detector(null).kind, defaultKind)
  assert.equal(new Detector('default').name, new Detector(DEFAULT_SPEC).name)
  const a = new Detector({ name: 'ewma', params: { alpha: 0.2, warmup: 5 } })
  const b = new Detector('ewma', { alpha: 0.2, warmup: 5 })
  const c = new Detector('ewma(alpha=0.2, warmup=5)')
  for (const d of [a, b, c]) warm(d, 20)
  assert.deepEqual(a.score(130, 99_000), b.score(130, 99_000))
  assert.deepEqual(b.score(130, 99_000), c.score(130, 99_000))
  const s = new Detector('seasonal', { period: '1d', bucket: '1h', min_samples: 3 })
  assert.equal(s.kind, 'seasonal')
  assert.equal(new Detector('ensemble(mad, cusum)', { combine: 'max' }).kind, 'ensemble')
})

test('every detector name builds and scores in [0, 1]', () => {
  const names = Detector.names()
  assert.ok(names.length >= 10)
  for (const { name, description } of names) {
    assert.equal(typeof description, 'string')
    const spec = name === 'ensemble' ? 'ensemble(mad, cusum)' : name
    const d = new Detector(spec)
    const scale = name === 'error_ratio' ? 0.01 : 1
    for (let i = 0; i < 100; i++) {
      const v = d.observe((10 + (i % 7)) * scale, i * 60_000)
      assert.ok(v.anomalyScore >= 0 && v.anomalyScore <= 1, name)
    }
  }
})

test('timestamps left out are one minute apart after the newest', () => {
  const d = new Detector('ewma')
  assert.equal(d.lastTimestamp, null)
  assert.equal(d.observe(1).timestamp, 0)
  assert.equal(d.observe(2).timestamp, 60_000)
  d.observe(3, 1_000_000)
  assert.equal(d.observe(4).timestamp, 1_060_000)
  assert.equal(d.score(5).timestamp, 1_120_000)
  d.observeBatch([1, 2, 3])
  assert.equal(d.lastTimestamp, 1_240_000)
  // Fractions of a millisecond are dropped.
  assert.equal(d.observe(1, 2_000_000.9).timestamp, 2_000_000)
})

test('observeBatch equals the observe loop, for arrays, Float64Array and BigInt64Array', () => {
  const { timestamps, values } = series(500)
  const loop = new Detector('mad(window=30)')
  const expected = Array.from(values, (v, i) => loop.observe(v, timestamps[i]).anomalyScore)
  const inputs = [
    [values, timestamps],
    [Array.from(values), Array.from(timestamps)],
    [values, BigInt64Array.from(timestamps, (t) => BigInt(t))],
    [values.subarray(0), timestamps],
  ]
  for (const [v, t] of inputs) {
    const d = new Detector('mad(window=30)')
    const got = d.observeBatch(v, t)
    assert.ok(got instanceof Float64Array)
    assert.deepEqual(Array.from(got), expected)
    assert.equal(d.snapshot(), loop.snapshot())
  }
})

test('a Float64Array view at an offset is read at its offset', () => {
  const { values } = series(300)
  const buf = new Float64Array(values.length + 7)
  buf.set(values, 7)
  const view = buf.subarray(7)
  assert.deepEqual(Array.from(new Detector('ewma').observeBatch(view)), Array.from(new Detector('ewma').observeBatch(values)))
})

test('scoreBatch judges against the current state and learns nothing', () => {
  const d = new Detector('ewma', { warmup: 5 })
  warm(d, 30)
  const snap = d.snapshot()
  const got = d.scoreBatch([100, 500, 101], [31_000, 32_000, 33_000])
  assert.deepEqual(Array.from(got), [100, 500, 101].map((v, i) => d.score(v, 31_000 + 1000 * i).anomalyScore))
  assert.equal(d.snapshot(), snap)
})

test('updateBatch learns all or nothing', () => {
  const d = new Detector('ewma')
  warm(d, 10)
  const snap = d.snapshot()
  assert.throws(() => d.updateBatch([1, 2, NaN], [20_000, 21_000, 22_000]), { code: 'NonFiniteValue' })
  assert.equal(d.snapshot(), snap)
  d.updateBatch([1, 2, 3], [20_000, 21_000, 22_000])
  assert.equal(d.lastTimestamp, 22_000)
})

test('verdictsBatch gives every field as a column, equal to observe', () => {
  const { timestamps, values } = series(200)
  const a = new Detector('mad(window=20)')
  const b = new Detector('mad(window=20)')
  const cols = a.verdictsBatch(values, timestamps)
  const verdicts = Array.from(values, (v, i) => b.observe(v, timestamps[i]))
  for (const f of ['timestamp', 'value', 'expected', 'lower', 'upper', 'z', 'pValue', 'anomalyScore', 'severityScore', 'confidence']) {
    assert.ok(cols[f] instanceof Float64Array, f)
    assert.deepEqual(Array.from(cols[f]), verdicts.map((v) => v[f]), f)
  }
  for (const f of ['isAnomaly', 'direction', 'severity', 'component', 'warm']) {
    assert.deepEqual(cols[f], verdicts.map((v) => v[f]), f)
  }
})

test('snapshot and restore give identical behaviour; reset forgets', () => {
  const { timestamps, values } = series(300)
  const d = new Detector('ensemble(mad, cusum, roc)')
  d.observeBatch(values.subarray(0, 200), timestamps.subarray(0, 200))
  const r = Detector.restore(d.snapshot())
  assert.equal(r.snapshot(), d.snapshot())
  assert.equal(r.name, d.name)
  assert.deepEqual(
    Array.from(r.observeBatch(values.subarray(200), timestamps.subarray(200))),
    Array.from(d.observeBatch(values.subarray(200), timestamps.subarray(200))),
  )
  d.reset()
  assert.equal(d.lastTimestamp, null)
  assert.equal(d.observe(1, 0).warm, false)
})

test('detectors are independent objects', () => {
  const a = new Detector('ewma')
  const b = new Detector('ewma')
  a.observe(1, 0)
  assert.equal(b.lastTimestamp, null)
})

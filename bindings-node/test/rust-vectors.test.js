'use strict'

// Equality with the Rust library on its own test vectors, and snapshots across the boundary
// both ways.
const test = require('node:test')
const assert = require('node:assert/strict')
const { Detector } = require('..')
const { rustVectors, rustRestore } = require('./rust.js')

const VERDICT_KEYS = {
  timestamp: 'timestamp', value: 'value', expected: 'expected', lower: 'lower', upper: 'upper', z: 'z',
  p_value: 'pValue', anomaly_score: 'anomalyScore', is_anomaly: 'isAnomaly', direction: 'direction',
  severity: 'severity', severity_score: 'severityScore', confidence: 'confidence', component: 'component', warm: 'warm',
}

function assertSameVerdict(js, rust, what) {
  for (const [r, j] of Object.entries(VERDICT_KEYS)) assert.ok(Object.is(js[j], rust[r]), `${what}: ${j}: ${js[j]} vs ${rust[r]}`)
  assert.deepEqual(js.notes, {
    scaleFloored: rust.notes.scale_floored, excluded: rust.notes.excluded, gap: rust.notes.gap, fallback: rust.notes.fallback,
  })
}

for (const c of rustVectors().cases) {
  test(`Rust vectors: ${c.spec}`, async (t) => {
    await t.test('scores equal Rust bit for bit', () => {
      const d = new Detector(c.spec)
      const got = d.observeBatch(c.values, c.timestamps)
      assert.equal(got.length, c.scores.length)
      for (let i = 0; i < got.length; i++) assert.ok(Object.is(got[i], c.scores[i]), `row ${i}: ${got[i]} vs ${c.scores[i]}`)
      // The same state as Rust's, field for field.
      assert.deepEqual(JSON.parse(d.snapshot()), JSON.parse(c.snapshot))
    })
    await t.test('a Rust snapshot restores here and judges as Rust does', () => {
      const d = Detector.restore(c.snapshot)
      assertSameVerdict(d.score(c.next.value, c.next.timestamp), c.next.verdict, c.spec)
      assert.deepEqual(JSON.parse(d.snapshot()), JSON.parse(c.snapshot))
    })
    await t.test('a snapshot made here restores in Rust', () => {
      const d = new Detector(c.spec)
      d.observeBatch(c.values, c.timestamps)
      const back = rustRestore(d.snapshot(), c.next.timestamp, c.next.value)
      assertSameVerdict(d.score(c.next.value, c.next.timestamp), back.verdict, c.spec)
      assert.deepEqual(JSON.parse(back.snapshot), JSON.parse(d.snapshot()))
    })
  })
}

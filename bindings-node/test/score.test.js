'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const { score, Detector, parseTimestamps, parseTimestamp } = require('..')
const { cliScore, series } = require('./rust.js')

// Bit for bit: deepStrictEqual compares numbers with Object.is.
function sameBits(a, b, what) {
  assert.equal(a.length, b.length, what)
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.fail(`${what}: row ${i}: ${a[i]} != ${b[i]}`)
  }
}

test('score() equals `oddsight score` bit for bit', () => {
  const { timestamps, values } = series(3000)
  for (const spec of [undefined, 'ewma', 'mad(window=60)', 'ensemble(mad, cusum, roc, combine=logp)', 'seasonal(period=1d, bucket=1h)']) {
    sameBits(Array.from(score(values, timestamps, spec)), cliScore(timestamps, values, spec), spec || 'default')
  }
})

test('score() clamps backwards time and keeps repeated timestamps, as the command line does', () => {
  const { timestamps, values } = series(800, 7)
  const t = Array.from(timestamps)
  for (const i of [100, 101, 400]) t[i] = t[i] - 10 * 60_000
  t[500] = t[499]
  sameBits(Array.from(score(values, t, 'mad(window=30)')), cliScore(t, values, 'mad(window=30)'), 'clamped')
})

test('score() without timestamps takes the points one minute apart from 0', () => {
  const { values } = series(500)
  const positions = Array.from(values, (_, i) => i * 60_000)
  sameBits(Array.from(score(values)), Array.from(score(values, positions)), 'positions')
  sameBits(Array.from(score(values, null, 'ewma')), cliScore(positions, values, 'ewma'), 'cli positions')
})

test('score() equals a fresh detector observing every point', () => {
  const { timestamps, values } = series(400)
  const d = new Detector('ewma')
  sameBits(Array.from(score(Array.from(values), timestamps, 'ewma')), Array.from(values, (v, i) => d.observe(v, timestamps[i]).anomalyScore), 'loop')
  assert.equal(score([]).length, 0)
})

test('parseTimestamps reads text as the command line does', () => {
  const texts = ['2014-04-10 16:15:00', '2014-04-10T16:15:00.123Z', '2014-04-10T18:15:00+02:00', '2014-04-10']
  const t = parseTimestamps(texts)
  assert.ok(t instanceof Float64Array)
  assert.deepEqual(Array.from(t), [
    Date.UTC(2014, 3, 10, 16, 15), Date.UTC(2014, 3, 10, 16, 15, 0, 123), Date.UTC(2014, 3, 10, 16, 15), Date.UTC(2014, 3, 10),
  ])
  assert.equal(parseTimestamp('1397146500'), Date.UTC(2014, 3, 10, 16, 15))
  assert.equal(parseTimestamp('1397146500123'), 1397146500123)
})

'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const { Detector, evaluateSyntheticAsync, evaluateSynthetic } = require('..')
const { series } = require('./rust.js')

test('observeBatchAsync resolves to the observeBatch scores and updates the detector', async () => {
  const { timestamps, values } = series(2000)
  const a = new Detector('mad(window=60)')
  const b = new Detector('mad(window=60)')
  const promise = a.observeBatchAsync(values, timestamps)
  assert.ok(promise instanceof Promise)
  const got = await promise
  assert.ok(got instanceof Float64Array)
  assert.deepEqual(Array.from(got), Array.from(b.observeBatch(values, timestamps)))
  assert.equal(a.snapshot(), b.snapshot())
})

test('observeBatchAsync runs off the main thread while the event loop goes on', async () => {
  const { timestamps, values } = series(300_000)
  const d = new Detector('ensemble(mad(window=240), cusum, roc)')
  let ticks = 0
  const timer = setInterval(() => ticks++, 1)
  const started = performance.now()
  const work = d.observeBatchAsync(values, timestamps)
  // The call returns at once; the loop keeps running timers until the batch is done.
  assert.ok(performance.now() - started < 100, 'returned before the work was done')
  const scores = await work
  clearInterval(timer)
  assert.equal(scores.length, values.length)
  assert.ok(ticks > 5, `the event loop ran ${ticks} timer ticks during the batch`)
})

test('several detectors work concurrently', async () => {
  const { timestamps, values } = series(20_000)
  const specs = ['ewma', 'mad', 'cusum', 'default']
  const results = await Promise.all(specs.map((s) => new Detector(s).observeBatchAsync(values, timestamps)))
  for (let k = 0; k < specs.length; k++) {
    assert.deepEqual(Array.from(results[k]), Array.from(new Detector(specs[k]).observeBatch(values, timestamps)), specs[k])
  }
})

test('the input is copied: changing it after the call does not change the result', async () => {
  const { timestamps, values } = series(5000)
  const expected = Array.from(new Detector('ewma').observeBatch(values, timestamps))
  const copy = values.slice()
  const work = new Detector('ewma').observeBatchAsync(copy, timestamps)
  copy.fill(1e9)
  assert.deepEqual(Array.from(await work), expected)
})

test('observeBatchAsync rejects with err.code and leaves the detector untouched', async () => {
  const d = new Detector('ewma')
  d.observe(1, 1000)
  const snap = d.snapshot()
  await assert.rejects(d.observeBatchAsync([1, NaN]), (e) => e instanceof Error && e.code === 'NonFiniteValue')
  await assert.rejects(d.observeBatchAsync([1, 2], [5, 6]), { code: 'OutOfOrder' })
  await assert.rejects(d.observeBatchAsync([1, 2], [5]), { code: 'ShapeMismatch' })
  assert.equal(d.snapshot(), snap)
})

test('evaluateSyntheticAsync resolves to what evaluateSynthetic returns', async () => {
  const options = { replicates: 1, length: 600, warmup: 200 }
  const got = await evaluateSyntheticAsync('ewma', options)
  assert.deepEqual(got, evaluateSynthetic('ewma', options))
  await assert.rejects(evaluateSyntheticAsync('nope'), { code: 'InvalidSpec' })
})

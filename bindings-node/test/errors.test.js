'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const os = require('node:os')
const path = require('node:path')
const fs = require('node:fs')
const o = require('..')
const { rustVectors } = require('./rust.js')

function throwsCode(fn, code) {
  let caught
  try {
    fn()
  } catch (e) {
    caught = e
  }
  assert.ok(caught, `expected a ${code} error`)
  assert.ok(caught instanceof Error, 'an Error')
  assert.equal(caught.code, code, caught.message)
  assert.ok(o.ERROR_CODES.includes(code), `${code} is listed in ERROR_CODES`)
  assert.ok(caught.message.length > 0)
  return caught
}

test('InvalidParameter', () => {
  const e = throwsCode(() => new o.Detector('ewma(alpha=2)'), 'InvalidParameter')
  assert.match(e.message, /alpha/)
  throwsCode(() => new o.Detector('mad', { window: 0 }), 'InvalidParameter')
  throwsCode(() => new o.Investigation(o.generateCase(1, 0), { max_tokens: -1 }), 'InvalidParameter')
})

test('NonFiniteValue', () => {
  const d = new o.Detector('ewma')
  for (const bad of [NaN, Infinity, -Infinity]) throwsCode(() => d.observe(bad), 'NonFiniteValue')
  throwsCode(() => d.observe(1, NaN), 'NonFiniteValue')
  throwsCode(() => d.observeBatch([1, NaN]), 'NonFiniteValue')
  throwsCode(() => o.score([1, 2, Infinity]), 'NonFiniteValue')
  assert.equal(d.lastTimestamp, null, 'nothing learned')
})

test('OutOfOrder', () => {
  const d = new o.Detector('ewma')
  d.observe(1, 1000)
  throwsCode(() => d.observe(1, 999), 'OutOfOrder')
  throwsCode(() => d.score(1, 5), 'OutOfOrder')
  throwsCode(() => d.observeBatch([1, 2], [2000, 1500]), 'OutOfOrder')
  assert.equal(d.lastTimestamp, 1000)
})

test('EmptyInput', () => {
  throwsCode(() => o.analyze([]), 'EmptyInput')
})

test('ShapeMismatch', () => {
  throwsCode(() => new o.Detector().observeBatch([1, 2, 3], [1, 2]), 'ShapeMismatch')
  throwsCode(() => o.score([1, 2, 3], [1, 2]), 'ShapeMismatch')
  throwsCode(() => new o.Monitor().ingestBatch('cpu', [1, 2], [1]), 'ShapeMismatch')
})

test('MalformedSnapshot and IncompatibleSnapshot', () => {
  throwsCode(() => o.Detector.restore('not json'), 'MalformedSnapshot')
  throwsCode(() => o.Detector.restore('{"format":"nope","kind":"AnyDetector","version":1,"state":{}}'), 'MalformedSnapshot')
  throwsCode(() => o.Detector.restore('{"format":"oddsight","kind":"AnyDetector","version":1,"state":{"type":"ewma"}}'), 'MalformedSnapshot')
  throwsCode(() => o.Detector.restore(new o.Monitor().snapshot()), 'IncompatibleSnapshot')
  const s = JSON.parse(new o.Detector('ewma').snapshot())
  s.version = 999
  throwsCode(() => o.Detector.restore(JSON.stringify(s)), 'IncompatibleSnapshot')
  throwsCode(() => o.Monitor.restore(new o.Detector().snapshot()), 'IncompatibleSnapshot')
})

test('LateEvent: a point for an interval a Rust aggregate already closed', () => {
  const { late_event } = rustVectors()
  const d = o.Detector.restore(late_event.snapshot)
  throwsCode(() => d.observe(late_event.value, late_event.timestamp), 'LateEvent')
})

test('InvalidSpec', () => {
  for (const spec of ['nope', 'mad(', 'mad(windw=3)', 'ensemble()', '{"name":', 42]) {
    throwsCode(() => new o.Detector(spec), 'InvalidSpec')
  }
  throwsCode(() => o.score([1], null, 'nope'), 'InvalidSpec')
})

test('IoError and InvalidData (files)', () => {
  const missing = path.join(os.tmpdir(), 'oddsight-no-such-dir')
  throwsCode(() => new o.Investigation(missing), 'IoError')
  throwsCode(() => o.evaluateNab(missing, path.join(missing, 'windows.json')), 'IoError')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oddsight-nab-'))
  try {
    fs.mkdirSync(path.join(dir, 'data'))
    fs.writeFileSync(path.join(dir, 'data', 'a.csv'), 'timestamp,value\n2014-01-01 00:00:00,abc\n')
    fs.writeFileSync(path.join(dir, 'windows.json'), '{"a.csv": []}')
    throwsCode(() => o.evaluateNab(path.join(dir, 'data'), path.join(dir, 'windows.json')), 'InvalidData')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('monitor and investigation codes', () => {
  const m = new o.Monitor({ targets: [{ name: 'cpu', selector: 'cpu' }] })
  throwsCode(() => m.ingest('cpu{', 0, 1), 'InvalidSeries')
  throwsCode(() => m.addTarget({ name: 'x', selector: '{service=' }), 'InvalidSelector')
  throwsCode(() => m.addTarget({ name: 'cpu', selector: 'cpu' }), 'DuplicateTarget')
  throwsCode(() => m.setEnabled('nope', true), 'UnknownTarget')
  throwsCode(() => m.acknowledge(99, 0), 'UnknownAlert')
  throwsCode(() => new o.Monitor({ targets: [], histroy: 3 }), 'InvalidConfig')
  throwsCode(() => new o.Investigation({ times: [], series: [], inject_time: 0 }), 'InvalidCase')
  const inv = new o.Investigation(o.generateCase(1, 0))
  throwsCode(() => inv.provide({ answer: 'nonsense' }), 'JsonError')
  throwsCode(() => inv.provide({ answer: 'verified', values: [] }), 'UnexpectedAnswer')
})

test('ERROR_CODES lists the Python exception names, frozen', () => {
  assert.ok(Object.isFrozen(o.ERROR_CODES))
  assert.deepEqual([...o.ERROR_CODES], o.errorCodes())
  assert.equal(new Set(o.ERROR_CODES).size, o.ERROR_CODES.length)
  assert.equal(typeof o.VERSION, 'string')
  throwsCode(() => o.parseTimestamps(['2014-04-10 16:15:00', 'yesterday']), 'InvalidData')
})

test('errors never crash the process: wrong argument types are thrown', () => {
  assert.throws(() => new o.Detector().observe('x'))
  assert.throws(() => o.score('not an array'))
  assert.throws(() => new o.Detector().observeBatch([1, 'a']))
})

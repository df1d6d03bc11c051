'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { evaluateNab, evaluateNabAsync, evaluateSynthetic } = require('..')

function tinyCorpus() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oddsight-nab-'))
  fs.mkdirSync(path.join(dir, 'data', 'k'), { recursive: true })
  const rows = ['timestamp,value']
  const start = Date.UTC(2014, 0, 1)
  const stamp = (i) => new Date(start + i * 300_000).toISOString().replace('T', ' ').slice(0, 19)
  for (let i = 0; i < 600; i++) rows.push(`${stamp(i)},${10 + (i % 5) + (i >= 450 && i < 460 ? 50 : 0)}`)
  fs.writeFileSync(path.join(dir, 'data', 'k', 'a.csv'), rows.join('\n') + '\n')
  fs.writeFileSync(path.join(dir, 'windows.json'), JSON.stringify({ 'k/a.csv': [[`${stamp(440)}.000000`, `${stamp(470)}.000000`]] }))
  return dir
}

test('evaluateNab scores a corpus under the NAB profiles (sync and async agree)', async () => {
  const dir = tinyCorpus()
  try {
    const data = path.join(dir, 'data')
    const windows = path.join(dir, 'windows.json')
    const report = evaluateNab(data, windows, 'ewma')
    assert.equal(report.files, 1)
    assert.equal(report.rows, 600)
    assert.ok(Array.isArray(report.profiles) && report.profiles.length === 3)
    assert.deepEqual(await evaluateNabAsync(data, windows, 'ewma'), report)
    await assert.rejects(evaluateNabAsync(path.join(dir, 'none'), windows), { code: 'IoError' })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('evaluateSynthetic reports every pattern and difficulty, seeded', () => {
  const a = evaluateSynthetic('mad', { replicates: 1, seed: 3, length: 600, warmup: 200 })
  const b = evaluateSynthetic('mad', { replicates: 1, seed: 3, length: 600, warmup: 200 })
  assert.deepEqual(a, b)
  assert.ok(JSON.stringify(a).includes('spike'))
  assert.throws(() => evaluateSynthetic('mad', { replicates: 0 }), { code: 'InvalidParameter' })
  assert.throws(() => evaluateSynthetic('mad', { nope: 1 }), { code: 'InvalidParameter' })
})

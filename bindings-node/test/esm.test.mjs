// The package as an ES module: named and default imports.
import test from 'node:test'
import assert from 'node:assert/strict'
import oddsight, { score, Detector, Monitor, Investigation, investigate, llmClient, analyze, DEFAULT_SPEC } from 'oddsight'
import { createRequire } from 'node:module'

test('named ES exports are the CommonJS exports', () => {
  const cjs = createRequire(import.meta.url)('oddsight')
  for (const [name, value] of Object.entries({ score, Detector, Monitor, Investigation, investigate, llmClient, analyze, DEFAULT_SPEC })) {
    assert.equal(value, cjs[name], name)
    assert.ok(value !== undefined, name)
  }
  assert.equal(oddsight.Detector, Detector)
  // Every CommonJS export has an ES name.
  for (const name of Object.keys(cjs)) {
    if (!name.startsWith('__')) assert.ok(name in oddsight, name)
  }
})

test('it works from ESM', async () => {
  const d = new Detector('ewma')
  assert.equal(d.observe(1, 0).warm, false)
  assert.equal(score(new Float64Array([1, 2, 3])).length, 3)
  const report = await investigate(oddsight.generateCase(1, 0))
  assert.equal(typeof report.summary, 'string')
})

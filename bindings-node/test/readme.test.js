'use strict'

// The README's JavaScript examples run as they are.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
const blocks = [...readme.matchAll(/```(js|mjs)\n([\s\S]*?)```/g)]

test('the README has examples in CommonJS and ES modules', () => {
  assert.ok(blocks.some((b) => b[1] === 'js'))
  assert.ok(blocks.some((b) => b[1] === 'mjs'))
})

blocks.forEach(([, kind, code], i) => {
  test(`README example ${i + 1} (${kind}) runs`, () => {
    const args = kind === 'mjs' ? ['--input-type=module', '-e', code] : ['-e', code]
    const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    assert.doesNotMatch(r.stdout, /\bfalse\b/, `an example printed false:\n${r.stdout}`)
  })
})

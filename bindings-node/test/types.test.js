'use strict'

// index.d.ts type-checks a TypeScript example that uses the whole API, in strict mode.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

test('a TypeScript example type-checks against index.d.ts', () => {
  const tsc = require.resolve('typescript/bin/tsc')
  const r = spawnSync(
    process.execPath,
    [
      tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext',
      '--types', 'node', path.join(__dirname, 'types', 'example.ts'),
    ],
    { encoding: 'utf8', cwd: path.join(__dirname, '..') },
  )
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

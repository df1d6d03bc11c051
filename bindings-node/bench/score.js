#!/usr/bin/env node
// score() on 1 M points against `oddsight score` on the same points, same detector.
//
//   node bench/score.js [points] [detector]
//
// The command line is found as test/rust.js finds it (ODDSIGHT_CLI, else target/release, …);
// use a release build of both for figures. Prints the best of three wall times of each and
// their ratio, and checks that the scores agree bit for bit.
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { score } = require('..')
const { cli, series } = require('../test/rust.js')

const n = Number(process.argv[2] || 1_000_000)
const spec = process.argv[3] || 'default'
const { timestamps, values } = series(n, 11)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oddsight-bench-'))
const input = path.join(dir, 'in.csv')
const output = path.join(dir, 'out.csv')
const rows = ['timestamp,value']
for (let i = 0; i < n; i++) rows.push(`${timestamps[i]},${values[i]}`)
fs.writeFileSync(input, rows.join('\n') + '\n')

function best(f) {
  let t = Infinity
  let out
  for (let k = 0; k < 3; k++) {
    const t0 = process.hrtime.bigint()
    out = f()
    t = Math.min(t, Number(process.hrtime.bigint() - t0) / 1e9)
  }
  return [t, out]
}

const exe = cli()
const [cliSecs] = best(() => execFileSync(exe, ['score', '--quiet', '--time-unit', 'ms', '--detector', spec, input, output]))
const [nodeSecs, scores] = best(() => score(values, timestamps, spec))
const written = fs.readFileSync(output, 'utf8').trim().split('\n').slice(1)
let same = written.length === n
for (let i = 0; same && i < n; i++) same = Object.is(Number(written[i].slice(written[i].lastIndexOf(',') + 1)), scores[i])
fs.rmSync(dir, { recursive: true, force: true })

console.log(`score() on ${n} points, detector ${spec}`)
console.log(`  oddsight score (CSV in and out): ${cliSecs.toFixed(3)} s`)
console.log(`  score() from Float64Arrays:      ${nodeSecs.toFixed(3)} s`)
console.log(`  ratio node / command line:       ${(nodeSecs / cliSecs).toFixed(2)}`)
console.log(`  scores identical bit for bit:    ${same}`)
if (!same) process.exit(1)

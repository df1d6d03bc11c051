// The Rust side of the cross-language tests: the `oddsight` command line and the `vectors`
// example of this crate. Each is taken from an environment variable when test.sh has built
// it (ODDSIGHT_CLI, ODDSIGHT_VECTORS), else from a build that is already there, else built
// here with cargo.
'use strict'

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const crate = path.join(__dirname, '..')
const workspace = path.join(crate, '..')

function hostTriple() {
  const out = execFileSync('rustc', ['-vV'], { encoding: 'utf8' })
  return /host: (\S+)/.exec(out)[1]
}

function firstExisting(paths) {
  return paths.find((p) => fs.existsSync(p))
}

function cargo(args, cwd) {
  const r = spawnSync('cargo', args, { cwd, stdio: ['ignore', 'ignore', 'inherit'] })
  if (r.status !== 0) throw new Error(`cargo ${args.join(' ')} failed`)
}

let cliPath
/** The `oddsight` command-line program. */
function cli() {
  if (cliPath) return cliPath
  cliPath =
    process.env.ODDSIGHT_CLI ||
    firstExisting([path.join(workspace, 'target/release/oddsight'), path.join(workspace, 'target/debug/oddsight')])
  if (!cliPath) {
    cargo(['build', '-p', 'oddsight-examples', '--bin', 'oddsight'], workspace)
    cliPath = path.join(workspace, 'target/debug/oddsight')
  }
  return cliPath
}

let vectorsPath
/** This crate's `vectors` example. */
function vectorsBin() {
  if (vectorsPath) return vectorsPath
  vectorsPath = process.env.ODDSIGHT_VECTORS
  if (!vectorsPath) {
    const triple = hostTriple()
    vectorsPath = firstExisting(
      ['release', 'debug'].flatMap((p) => [
        path.join(crate, 'target', triple, p, 'examples/vectors'),
        path.join(crate, 'target', p, 'examples/vectors'),
      ]),
    )
  }
  if (!vectorsPath) {
    cargo(['build', '-p', 'oddsight-node', '--example', 'vectors', '--target-dir', path.join(crate, 'target')], crate)
    vectorsPath = path.join(crate, 'target/debug/examples/vectors')
  }
  return vectorsPath
}

let vectors
/** Test vectors made by the Rust library: `{ cases: [...], late_event: {...} }`. */
function rustVectors() {
  if (!vectors) vectors = JSON.parse(execFileSync(vectorsBin(), { encoding: 'utf8', maxBuffer: 1 << 28 }))
  return vectors
}

/** Restores `snapshot` in Rust and scores (t, v) there: `{ verdict, snapshot }`. */
function rustRestore(snapshot, t, v) {
  const out = execFileSync(vectorsBin(), ['restore', String(t), String(v)], { input: snapshot, encoding: 'utf8' })
  return JSON.parse(out)
}

/** Scores a `timestamp,value` series (ms) with the command line: the scores as numbers. */
function cliScore(timestamps, values, spec) {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'oddsight-cli-'))
  try {
    const input = path.join(dir, 'in.csv')
    const output = path.join(dir, 'out.csv')
    const rows = ['timestamp,value']
    for (let i = 0; i < values.length; i++) rows.push(`${timestamps[i]},${values[i]}`)
    fs.writeFileSync(input, rows.join('\n') + '\n')
    const args = ['score', '--quiet', '--time-unit', 'ms']
    if (spec) args.push('--detector', spec)
    execFileSync(cli(), [...args, input, output], { stdio: ['ignore', 'ignore', 'inherit'] })
    const lines = fs.readFileSync(output, 'utf8').trim().split('\n').slice(1)
    return lines.map((l) => Number(l.slice(l.lastIndexOf(',') + 1)))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** A seeded series: a wave with noise, spikes and a level shift, one minute apart. */
function series(n, seed = 1) {
  let s = seed >>> 0
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
  const timestamps = new Float64Array(n)
  const values = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    timestamps[i] = 1_700_000_000_000 + i * 60_000
    values[i] =
      100 + 10 * Math.sin((i / 60) * 2 * Math.PI) + 4 * (rand() - 0.5) + (i % 97 === 50 ? 60 : 0) + (i > (3 * n) / 4 ? 20 : 0)
  }
  return { timestamps, values }
}

module.exports = { cli, cliScore, rustVectors, rustRestore, series }

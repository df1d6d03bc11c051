#!/usr/bin/env node
// `npm run build` (release) and `npm run build:debug`: the napi CLI with this folder's own
// cargo target directory, given as an absolute path because napi-derive writes the type
// definitions there from inside rustc, whose working directory is the workspace root.
// Never add --use-napi-cross or --cross-compile: they download toolchains.
'use strict'

const { spawnSync } = require('node:child_process')
const path = require('node:path')

const root = path.join(__dirname, '..')
const cli = path.join(path.dirname(require.resolve('@napi-rs/cli/package.json', { paths: [root] })), 'dist', 'cli.js')
const args = [cli, 'build', '--platform', '--target-dir', path.join(root, 'target'), ...process.argv.slice(2)]
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' })
process.exit(r.status === null ? 1 : r.status)

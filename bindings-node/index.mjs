// ES module entry: the same addon as index.js, with named exports.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const oddsight = require('./index.js')

export const { score, Detector, Monitor, analyze, detectors, DEFAULT_SPEC } = oddsight
export default oddsight

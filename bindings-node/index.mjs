// ES module entry: the same package as index.js, with named exports.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const oddsight = require('./index.js')

export const {
  score,
  Detector,
  Monitor,
  analyze,
  DEFAULT_SPEC,
  ERROR_CODES,
  VERSION,
  errorCodes,
  parseTimestamps,
  parseTimestamp,
  Investigation,
  investigate,
  llmClient,
  loadCase,
  writeCaseDir,
  generateCase,
  providerRoute,
  requestBody,
  parseReply,
  classifyError,
  evaluateNab,
  evaluateNabAsync,
  evaluateSynthetic,
  evaluateSyntheticAsync,
} = oddsight
export default oddsight

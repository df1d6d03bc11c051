// Type-checked against index.d.ts by test/types.test.js (tsc --noEmit --strict).
import {
  score,
  Detector,
  Monitor,
  analyze,
  investigate,
  llmClient,
  Investigation,
  type Verdict,
  type MonitorEvent,
  type OddsightError,
  type ErrorCode,
  type InvestigationReport,
  type ChatRequest,
  type ChatReply,
} from 'oddsight'

const scores: Float64Array = score(new Float64Array([1, 2, 3]), [0, 1000, 2000], 'mad(window=60)')
const d = new Detector('ewma', { alpha: 0.1, warmup: 10 })
const d2 = new Detector({ name: 'ensemble', members: [{ name: 'mad' }, { name: 'cusum' }], params: { combine: 'max' } })
const v: Verdict = d.observe(120.5, Date.now())
const up: boolean = v.direction === 'up' && v.severity !== 'normal' && v.notes.scaleFloored === false
const batch: Float64Array = d.observeBatch([1, 2, 3], new BigInt64Array([1n, 2n, 3n]))
const later: Promise<Float64Array> = d2.observeBatchAsync(new Float64Array(10))
const again: Detector = Detector.restore(d.snapshot())
const last: number | null = again.lastTimestamp

const m = new Monitor({ targets: [{ name: 'lat', selector: 'latency_ms', detector: 'ewma', interval: '5m' }] })
m.ingest('latency_ms{service="a"}', 0, 1)
m.ingestBatch('latency_ms{service="a"}', [2], [60_000])
const events: MonitorEvent[] = m.tick(120_000)
for (const e of events) {
  if ('alert_id' in e) console.log(e.target, e.severity, e.verdict.anomaly_score)
  else console.log(e.incident.service, e.incident.signals.length)
}
const flagged: number[] = analyze([1, 2, 50]).points.filter((p) => p.anomaly).map((p) => p.index)

try {
  d.observe(NaN)
} catch (err) {
  const code: ErrorCode = (err as OddsightError).code
  console.log(code === 'NonFiniteValue')
}

async function main(): Promise<void> {
  const llm = llmClient({ baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.1' })
  const own = async (request: ChatRequest): Promise<ChatReply> => llm(request)
  const report: InvestigationReport = await investigate('cases/case-000', { llm: own, policy: { mode: 'dry_run' } })
  console.log(report.root_cause.service, report.confidence.toFixed(2), report.decision)
  const inv = new Investigation('cases/case-000')
  const need = inv.next()
  if (need.need === 'evidence' && need.query.kind !== 'similar_incidents') inv.provide({ answer: 'evidence', items: inv.caseEvidence(need.query) })
}

void [scores, up, batch, later, last, flagged, main]

'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const o = require('..')

/**
 * A loopback OpenAI-compatible server: answers /v1/chat/completions with `reply(body)` and
 * records the requests. Bound to 127.0.0.1 on a free port; closed by the caller.
 */
async function fakeOpenAi(reply) {
  const requests = []
  const server = http.createServer((req, res) => {
    let data = ''
    req.on('data', (c) => (data += c))
    req.on('end', () => {
      requests.push({ url: req.url, headers: req.headers, body: JSON.parse(data || '{}') })
      const [status, body, headers] = reply(requests[requests.length - 1])
      res.writeHead(status, { 'content-type': 'application/json', ...(headers || {}) })
      res.end(JSON.stringify(body))
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return { baseUrl: `http://127.0.0.1:${port}/v1`, requests, close: () => new Promise((r) => server.close(r)) }
}

function openAiAnswer(service, evidence) {
  const content = JSON.stringify({
    root_cause: { service },
    evidence,
    confidence: 0.8,
    summary: `the ${service} regression explains the alerts`,
  })
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    model: 'test-model',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 120, completion_tokens: 40, total_tokens: 160 },
  }
}

test('investigate() without a model: the deterministic report, from a case object or a directory', async () => {
  const g = o.generateCase(1, 0)
  const report = await o.investigate(g)
  assert.equal(report.root_cause.service, g.truth.service)
  assert.notEqual(report.decision, 'auto_remediate')
  assert.equal(report.model.used, false)
  assert.ok(report.journal.entries.length > 0)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oddsight-case-'))
  try {
    o.writeCaseDir(g, dir)
    const loaded = o.loadCase(dir)
    assert.deepEqual(loaded.series.map((s) => s.metric), g.series.map((s) => s.metric))
    const again = await o.investigate(dir)
    assert.equal(again.root_cause.service, report.root_cause.service)
    // The directory stores values as decimals: the figures agree to the CSV's precision.
    assert.ok(Math.abs(again.confidence - report.confidence) < 1e-4)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('an investigation driven by an async JS function against a loopback OpenAI-compatible server', async () => {
  const g = o.generateCase(2, 0)
  const server = await fakeOpenAi(({ body }) => {
    // Cite the evidence ids the prompt offers.
    const ids = [...new Set(JSON.stringify(body.messages).match(/E\d+/g) || [])].slice(0, 3)
    return [200, openAiAnswer(g.truth.service, ids)]
  })
  try {
    let calls = 0
    const client = o.llmClient({ baseUrl: server.baseUrl, apiKey: 'test-key', model: 'test-model' })
    const llm = async (request) => {
      calls++
      assert.equal(typeof request.system, 'string')
      assert.ok(Array.isArray(request.messages))
      await new Promise((r) => setTimeout(r, 5)) // a real await on the event loop
      return client(request)
    }
    const report = await o.investigate(g, { llm })
    assert.equal(calls, 1)
    assert.equal(server.requests.length, 1)
    const sent = server.requests[0]
    assert.equal(sent.url, '/v1/chat/completions')
    assert.equal(sent.headers.authorization, 'Bearer test-key')
    assert.equal(sent.body.model, 'test-model')
    assert.ok(sent.body.messages.length >= 1)
    assert.equal(report.model.used, true)
    assert.equal(report.model.calls, 1)
    assert.equal(report.model.usage.input_tokens, 120)
    assert.equal(report.root_cause.service, g.truth.service)
  } finally {
    await server.close()
  }
})

test('a failing model falls back to the ranking with the typed error journaled', async () => {
  const g = o.generateCase(3, 0)
  const server = await fakeOpenAi(() => [429, { error: { message: 'slow down', type: 'rate_limit_exceeded' } }, { 'retry-after': '7' }])
  try {
    const report = await o.investigate(g, { llm: o.llmClient({ baseUrl: server.baseUrl }) })
    assert.equal(report.model.used, false)
    assert.match(String(report.model.fallback), /RateLimited|rate/i)
    assert.equal(report.root_cause.service, g.truth.service)
  } finally {
    await server.close()
  }
  // A server that is not there.
  const down = o.llmClient({ baseUrl: 'http://127.0.0.1:9/v1', timeoutMs: 2000 })
  await assert.rejects(down({ model: '', system: 's', messages: [], max_tokens: 5 }), (e) => ['Unreachable', 'Timeout'].includes(e.code))
})

test('stepping the Investigation by hand: next(), provide(), journal, replay', async () => {
  const g = o.generateCase(4, 0)
  const inv = new o.Investigation(g, { use_llm: true, model: 'm' })
  assert.equal(inv.stage, 'investigating')
  assert.ok(inv.ranking())
  let need = inv.next()
  assert.deepEqual(inv.next(), need, 'asking again gives the same need')
  const seen = new Set()
  for (let i = 0; need.need !== 'done' && i < 100; i++, need = inv.next()) {
    seen.add(need.need)
    if (need.need === 'evidence') {
      inv.provide(need.query.kind === 'similar_incidents' ? { answer: 'similar', matches: [] } : { answer: 'evidence', items: inv.caseEvidence(need.query) })
    } else if (need.need === 'completion') {
      const reply = await Promise.resolve({ text: JSON.stringify({ root_cause: { service: g.truth.service }, evidence: ['E1'], confidence: 0.7, summary: 's' }), stop_reason: 'end_turn' })
      inv.provide({ answer: 'completion', reply })
    } else {
      assert.fail(`unexpected need ${need.need}`)
    }
  }
  assert.equal(need.need, 'done')
  assert.ok(seen.has('evidence') && seen.has('completion'))
  const report = need.report
  assert.equal(report.root_cause.service, g.truth.service)
  assert.equal(inv.journal().entries.length, report.journal.entries.length)
  const again = o.Investigation.replay(g, { use_llm: true, model: 'm' }, report.journal)
  assert.deepEqual(again.root_cause, report.root_cause)
  assert.throws(() => o.Investigation.replay(g, null, { entries: report.journal.entries.slice(0, 3) }), { code: 'ReplayDiverged' })
})

test('the wire formats are the library\'s: requestBody, parseReply, classifyError, providerRoute', () => {
  const request = { model: 'm', system: 'be brief', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }
  const openai = o.requestBody('openai', request)
  assert.equal(openai.model, 'm')
  assert.equal(openai.messages[0].role, 'system')
  const anthropic = o.requestBody('anthropic', request)
  assert.equal(anthropic.system, 'be brief')
  assert.deepEqual(o.providerRoute('anthropic', 'k').path, '/messages')
  assert.equal(o.providerRoute('anthropic', 'k').headers['x-api-key'], 'k')
  const reply = o.parseReply('openai', JSON.stringify(openAiAnswer('db', ['E1'])))
  assert.match(reply.text, /root_cause/)
  assert.equal(reply.usage.output_tokens, 40)
  assert.throws(() => o.parseReply('openai', 'not json'), { code: 'MalformedReply' })
  assert.equal(o.classifyError('openai', 401, null, '{}').code, 'AuthFailed')
  assert.equal(o.classifyError('openai', 500, null, '{}').code, 'HttpError')
  assert.throws(() => o.providerRoute('nope'), { code: 'InvalidParameter' })
  assert.throws(() => o.llmClient({}), { code: 'InvalidParameter' })
})

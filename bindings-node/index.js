// oddsight for Node: the native addon (loaded by native.js, which napi-rs generates) plus two
// helpers written in JavaScript because they await JavaScript promises: `investigate()`, which
// drives an Investigation with async callbacks, and `llmClient()`, an LLM function over fetch.
// Types and docs: index.d.ts.
'use strict'

const native = require('./native.js')

function oddsightError(code, message) {
  const e = new Error(message)
  e.code = code
  return e
}

function errorCode(e) {
  return (e && typeof e.code === 'string' && e.code) || 'Error'
}

function errorMessage(e) {
  return String((e && e.message) || e)
}

/**
 * Runs an investigation to its report, answering its needs as the Rust `Driver` does: case
 * evidence (or `evidence(query)`), `llm(request)` for completions, `approve(action,
 * fingerprint)`, `execute(action)`, `verify(window)`, and `similar(fingerprint)` /
 * `record(learned)` for a knowledge base. A callback that throws counts as a failed answer
 * (no evidence, a failed completion, a denial, a failed action), which the investigation
 * journals and handles; it never stops the run.
 */
async function investigate(caseInput, options = {}) {
  const { llm, evidence, similar, record, approve, execute, verify, ...rest } = options || {}
  const settings = { ...rest }
  // As investigate_case in Rust: no model without a client; a client means asking it.
  if (!llm) settings.use_llm = false
  else if (settings.use_llm === undefined) settings.use_llm = true
  const inv = new native.Investigation(caseInput, settings)
  for (let step = 0; step < 10000; step++) {
    const need = inv.next()
    let answer
    switch (need.need) {
      case 'done':
        if (record && need.report.decision !== 'no_action') await record(need.report.learned)
        return need.report
      case 'evidence':
        if (need.query.kind === 'similar_incidents') {
          let matches = []
          if (similar) matches = await Promise.resolve(similar(need.query.fingerprint)).catch(() => [])
          answer = { answer: 'similar', matches: matches || [] }
        } else {
          let items
          if (evidence) items = await Promise.resolve(evidence(need.query)).catch(() => [])
          else items = inv.caseEvidence(need.query)
          answer = { answer: 'evidence', items: items || [] }
        }
        break
      case 'completion':
        if (!llm) {
          answer = { answer: 'completion_failed', code: 'NoClient', message: 'no LLM client configured' }
        } else {
          try {
            answer = { answer: 'completion', reply: await llm(need.request) }
          } catch (e) {
            answer = { answer: 'completion_failed', code: errorCode(e), message: errorMessage(e) }
          }
        }
        break
      case 'approval': {
        let given = null
        if (approve) given = await Promise.resolve(approve(need.action, need.fingerprint)).catch(() => null)
        answer = given
          ? { answer: 'approval', approval: given.approval, now: given.now }
          : {
              answer: 'approval',
              approval: { fingerprint: need.fingerprint, granted: false, approver: 'nobody', decided_at: 0, expires_at: 0 },
              now: 0,
            }
        break
      }
      case 'execute': {
        let outcome = { ok: false, detail: 'no remediator configured' }
        if (execute) {
          try {
            outcome = await execute(need.action)
          } catch (e) {
            outcome = { ok: false, detail: errorMessage(e) }
          }
        }
        answer = { answer: 'executed', outcome }
        break
      }
      case 'verify': {
        let values
        if (verify) values = await Promise.resolve(verify(need.window)).catch(() => [])
        else values = inv.caseValues(need.window)
        answer = { answer: 'verified', values: values || [] }
        break
      }
      default:
        throw oddsightError('UnexpectedAnswer', `unknown need ${JSON.stringify(need.need)}`)
    }
    inv.provide(answer)
  }
  throw oddsightError('UnexpectedAnswer', 'the investigation did not end within 10000 steps')
}

/**
 * An `llm` function for `investigate()` over `fetch`: OpenAI Chat Completions (and compatible
 * servers: Ollama, vLLM, llama.cpp) or Anthropic Messages. The wire formats are the Rust
 * library's; only the HTTP call is JavaScript's.
 */
function llmClient(config = {}) {
  const { provider = 'openai', baseUrl, apiKey = '', model, timeoutMs = 120000 } = config
  const fetchFn = config.fetch || globalThis.fetch
  if (!baseUrl) throw oddsightError('InvalidParameter', 'invalid parameter baseUrl: a base URL such as http://127.0.0.1:11434/v1 is needed')
  if (typeof fetchFn !== 'function') throw oddsightError('InvalidParameter', 'invalid parameter fetch: no fetch function available')
  const route = native.providerRoute(provider, apiKey)
  const url = String(baseUrl).replace(/\/+$/, '') + route.path
  return async function llm(request) {
    const req = model && !request.model ? { ...request, model } : request
    const body = JSON.stringify(native.requestBody(provider, req))
    let res
    try {
      res = await fetchFn(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...route.headers },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (e) {
      const timedOut = e && (e.name === 'TimeoutError' || e.name === 'AbortError')
      throw oddsightError(timedOut ? 'Timeout' : 'Unreachable', `${provider}: ${errorMessage(e)}`)
    }
    const text = await res.text()
    if (!res.ok) throw native.classifyError(provider, res.status, res.headers.get('retry-after'), text)
    return native.parseReply(provider, text)
  }
}

module.exports = { ...native, ERROR_CODES: Object.freeze(native.errorCodes()), investigate, llmClient }

import type { IncomingMessage, ServerResponse } from 'node:http'
import { BadInput, NotFound, SimError } from './errors.js'
import { parseFaultSettings } from './faults.js'
import type { SimLogger } from './logger.js'
import type { Simulator } from './simulator.js'

/** Enough for a base64 media file of POST /send (16 MB). */
const MAX_BODY_BYTES = 24 * 1024 * 1024

type Route = (sim: Simulator, body: Record<string, unknown>, query: URLSearchParams) => unknown

/** The control API routes: `METHOD path` → handler. Handlers validate their own input. */
const routes: Record<string, Route> = {
  'GET /stats': (sim, _body, query) => sim.stats(query.get('perDevice') !== 'false'),
  'GET /accounts': (sim) => sim.accounts(),
  'GET /inbox': (sim, _body, query) => sim.inboxFor(query.get('pn') ?? undefined),
  'GET /receipts': (sim, _body, query) => sim.receiptsFor(query.get('id') ?? undefined),
  'GET /presences': (sim, _body, query) => sim.presencesFor(query.get('to') ?? undefined),
  'POST /groups': (sim, body) => sim.createGroup({ subject: body.subject, participants: body.participants }),
  'POST /groups/send': (sim, body) =>
    sim.sendToGroup({ from: body.from, group: body.group, text: body.text, id: body.id }),
  'POST /scan': (sim, body) => sim.scan({ qr: body.qr, phone: body.phone, pushName: body.pushName }),
  'POST /pairing-code': (sim, body) =>
    sim.enterPairingCode({ phone: body.phone, code: body.code, pushName: body.pushName }),
  'POST /contacts': (sim, body) => sim.addContact({ pn: body.pn, name: body.name }),
  'POST /send': (sim, body) =>
    sim.send({
      from: body.from,
      to: body.to,
      text: body.text,
      media: body.media,
      addressing: body.addressing,
      id: body.id,
    }),
  'POST /poll': (sim, body) =>
    sim.sendPoll({
      from: body.from,
      to: body.to,
      question: body.question,
      options: body.options,
      selectableCount: body.selectableCount,
      id: body.id,
    }),
  'POST /vote': (sim, body) =>
    sim.vote({ from: body.from, to: body.to, pollId: body.pollId, options: body.options }),
  'POST /edit': (sim, body) => sim.edit({ from: body.from, to: body.to, id: body.id, text: body.text }),
  'POST /revoke': (sim, body) => sim.revoke({ from: body.from, to: body.to, id: body.id }),
  'POST /react': (sim, body) => sim.react({ from: body.from, to: body.to, id: body.id, emoji: body.emoji }),
  'POST /receipt': (sim, body) => sim.receipt({ from: body.from, to: body.to, id: body.id, type: body.type }),
  'POST /retry': (sim, body) => sim.requestRetry({ from: body.from, id: body.id }),
  'POST /remove-device': (sim, body) => sim.removeDevice({ jid: body.jid }),
  'POST /kick': (sim, body) => sim.kick({ pn: body.pn, jid: body.jid, mode: body.mode }),
  'POST /faults': (sim, body) => sim.setFaults(parseFaultSettings(body)),
}

/** Serves one control request; errors become `{error: {code, message}}` here and only here. */
export async function handleControlRequest(
  sim: Simulator,
  extra: { rootKey: () => unknown },
  logger: SimLogger,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sim')
  try {
    let payload: unknown
    if (req.method === 'GET' && url.pathname === '/root-key') payload = extra.rootKey()
    else {
      const route = routes[`${req.method} ${url.pathname}`]
      if (!route) throw new NotFound(`no route ${req.method} ${url.pathname}`)
      const body = req.method === 'POST' ? await readJsonBody(req) : {}
      payload = await route(sim, body, url.searchParams)
    }
    respond(res, 200, payload)
  } catch (err) {
    if (err instanceof SimError) {
      respond(res, err.status, { error: { code: err.code, message: err.message } })
      return
    }
    logger.error({ err, path: url.pathname }, 'control request failed')
    respond(res, 500, { error: { code: 'internal', message: (err as Error).message } })
  }
}

async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new BadInput('body', `must be at most ${MAX_BODY_BYTES} bytes`)
    chunks.push(chunk as Buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new BadInput('body', 'must be valid JSON')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BadInput('body', 'must be a JSON object')
  }
  return parsed as Record<string, unknown>
}

function respond(res: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload ?? null)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

import { type SimHandle, type StartSimulatorOptions, startSimulator } from '../../src/index.js'
import { TestClient } from './baileys-client.js'

let phoneCounter = 0
/** A fresh phone number per call, so tests never share accounts. */
export function newPhone(): string {
  phoneCounter++
  return `62812${String(process.pid % 1000).padStart(3, '0')}${String(phoneCounter).padStart(5, '0')}`
}

export async function startTestSimulator(options: StartSimulatorOptions = {}): Promise<SimHandle> {
  return startSimulator({ port: 0, logLevel: 'silent', ...options })
}

/** A Baileys client linked to `phone` through a QR scan and open after the 515 restart. */
export async function linkedClient(
  sim: SimHandle,
  phone = newPhone(),
  options: ConstructorParameters<typeof TestClient>[2] = {},
): Promise<{ client: TestClient; phone: string; jid: string }> {
  const client = new TestClient(sim.url, sim.rootPublicKey, options)
  let jid = ''
  await client.link(async (qr) => {
    jid = (await sim.scan({ qr, phone, pushName: `Tenant ${phone.slice(-4)}` })).jid
  })
  return { client, phone, jid }
}

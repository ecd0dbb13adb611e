// Exceptions thrown while a step runs, seen through the inspector (the debugger pausing on every
// exception, caught ones included, and resuming at once). An exception thrown and caught on a
// request's path costs far more than the work around it (#19: oidc-provider's JWT parse of an
// opaque token, node:crypto's type checks of a key given as bytes), and nothing else shows one:
// the answer is the same. Only exceptions thrown with PostCert's or oidc-provider's code on the
// stack count, so a client's own (openid-client, supertest, the test) do not.
import { Session } from 'node:inspector/promises'

export interface Thrown {
  /** The exception's class and message. */
  what: string
  /** The innermost frames of PostCert's or oidc-provider's code. */
  where: string[]
}

const SERVER_CODE = /\/src\/|\/node_modules\/oidc-provider\//

/**
 * asn1js reads the bytes of a BIT or OCTET STRING (a key, a signature) as ASN.1 too, in case they
 * hold a structure. Random bytes that happen to start like a UTF8String then fail its UTF-8
 * decoding, which it catches and keeps the bytes: a URIError now and then, depending on a fresh
 * key's or signature's bytes, not on the path (test/oidc/thrown.test.ts shows one).
 */
const incidental = (className: string | undefined, frames: readonly { name: string; url: string }[]) =>
  className === 'URIError' && frames.some((frame) => frame.name === 'fromBuffer' && frame.url.includes('/node_modules/asn1js/'))

export class ThrownCounter {
  readonly #session = new Session()
  #seen: Thrown[] = []

  async start(): Promise<void> {
    this.#session.connect()
    // Paused frames name their script by id; the script's URL comes with its parse event (sent
    // for every script already loaded when the debugger is enabled, and for each one after).
    const urls = new Map<string, string>()
    this.#session.on('Debugger.scriptParsed', ({ params }) => { urls.set(params.scriptId, params.url) })
    this.#session.on('Debugger.paused', ({ params }) => {
      const frames = params.callFrames.map((frame) => ({ name: frame.functionName || '(anonymous)', url: urls.get(frame.location.scriptId) ?? '', line: frame.location.lineNumber + 1 }))
      const ours = frames.filter((frame) => SERVER_CODE.test(frame.url))
      const data = params.data as { className?: string; description?: string } | undefined
      if (ours.length && !incidental(data?.className, frames)) {
        this.#seen.push({
          what: `${data?.className ?? 'value'}: ${(data?.description ?? '').split('\n')[0]}`,
          where: ours.slice(0, 3).map((frame) => `${frame.name} ${frame.url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${frame.line}`),
        })
      }
      void this.#session.post('Debugger.resume')
    })
    await this.#session.post('Debugger.enable')
    await this.#session.post('Debugger.setPauseOnExceptions', { state: 'all' })
  }

  /** What was thrown while the step ran. */
  async during(step: () => Promise<unknown>): Promise<Thrown[]> {
    this.#seen = []
    await step()
    return this.#seen
  }

  async stop(): Promise<void> {
    await this.#session.post('Debugger.disable')
    this.#session.disconnect()
  }
}

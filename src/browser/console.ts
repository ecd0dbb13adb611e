// The operator console's sign-in and invitation pages: the passkey answers the server's
// single-use challenge. The invitation's token is in the link's fragment (#...), which the
// browser never sends to a server or puts in a Referer; it is taken out of the address bar at once.
import { browserSupportsWebAuthn, startAuthentication, startRegistration } from '@simplewebauthn/browser'
import { listen } from './listen.ts'

const { errors, ...messages } = JSON.parse(document.querySelector('#console-messages')!.textContent) as Record<string, string> & { errors: Record<string, string> }
const error = document.querySelector<HTMLElement>('#console-error')!
const progress = document.querySelector<HTMLElement>('#console-progress')!
const button = document.querySelector<HTMLButtonElement>('#console-passkey')!

function fail(message: string): void {
  progress.textContent = ''
  error.textContent = message
  error.hidden = false
  button.disabled = false
  error.focus()
}

async function post(path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(path, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const json = await res.json().catch(() => ({})) as Record<string, unknown>
  if (!res.ok) {
    const code = typeof json.error === 'string' ? json.error : ''
    throw new Error(errors[code] ?? (typeof json.error_description === 'string' ? json.error_description : messages.failed))
  }
  return json
}

/** Runs one passkey ceremony, showing progress, and follows the server's redirect when it is done. */
async function ceremony(run: () => Promise<Record<string, unknown>>): Promise<void> {
  error.hidden = true
  button.disabled = true
  progress.textContent = messages.waiting!
  try {
    const done = await run()
    progress.textContent = messages.done!
    location.assign(String(done.redirect))
  } catch (err) {
    // A closed or timed-out passkey prompt is the person's choice, not a fault.
    const name = (err as { name?: string }).name
    fail(name === 'NotAllowedError' || name === 'AbortError' ? messages.cancelled! : (err as Error).message)
  }
}

const mode = document.querySelector<HTMLElement>('[data-console]')!.dataset.console
const invitation = location.hash.slice(1)
if (mode === 'enroll' && invitation) history.replaceState(null, '', location.pathname + location.search)

if (!browserSupportsWebAuthn()) {
  fail(messages.unsupported!)
  button.disabled = true
} else if (mode === 'enroll' && !invitation) {
  fail(errors.invitation_invalid!)
  button.disabled = true
} else {
  listen(button, 'click', () => ceremony(async () => {
    if (mode === 'enroll') {
      const { challengeId, options } = await post('/console/enroll/options', { invitation }) as { challengeId: string; options: Parameters<typeof startRegistration>[0]['optionsJSON'] }
      const response = await startRegistration({ optionsJSON: options })
      return await post('/console/enroll', { invitation, challengeId, response })
    }
    const { challengeId, options } = await post('/console/login/options', {}) as { challengeId: string; options: Parameters<typeof startAuthentication>[0]['optionsJSON'] }
    const response = await startAuthentication({ optionsJSON: options })
    return await post('/console/login', { challengeId, response })
  }))
}

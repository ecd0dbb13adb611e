// The phone code's countdowns: the seconds the server counted (data-seconds), run down on this
// page's own clock, so a wrong clock on the phone does not matter. When the code runs out its
// message shows (role=alert); until the resend minute is over, the resend button sends nothing.
const messages = JSON.parse(document.querySelector('#timer-messages')?.textContent ?? '{}') as Record<string, string>

const fill = (text: string | undefined, params: Record<string, string | number>) => (text ?? '').replace(/\{\{(\w+)\}\}/g, (_, name: string) => String(params[name] ?? ''))
const minutes = (seconds: number) => `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`

/** Calls `show` with the whole seconds left now and every second after, until 0. */
function countdown(element: HTMLElement, show: (left: number) => void): void {
  const end = performance.now() + Number(element.dataset.seconds ?? 0) * 1000
  const tick = () => {
    const left = Math.max(0, Math.ceil((end - performance.now()) / 1000))
    show(left)
    if (left === 0) clearInterval(timer)
  }
  const timer = setInterval(tick, 1000)
  tick()
}

const codeTimer = document.querySelector<HTMLElement>('#code-timer')
const expired = document.querySelector<HTMLElement>('#code-expired')
if (codeTimer && expired) {
  countdown(codeTimer, (left) => {
    codeTimer.textContent = left > 0 ? fill(messages.left, { time: minutes(left), until: codeTimer.dataset.until ?? '' }) : ''
    if (left === 0) expired.hidden = false
  })
}

const resendTimer = document.querySelector<HTMLElement>('#resend-timer')
const resend = document.querySelector<HTMLButtonElement>('#resend')
if (resendTimer && resend) {
  resend.addEventListener('click', (event) => {
    if (resend.getAttribute('aria-disabled') === 'true') event.preventDefault()
  })
  countdown(resendTimer, (left) => {
    resendTimer.textContent = left > 0 ? fill(messages.resend_in, { seconds: left }) : ''
    if (left === 0) resend.removeAttribute('aria-disabled')
  })
}

/**
 * addEventListener for an async handler: a rejection the handler did not catch itself is
 * reported (reportError: the console and the window's error event) instead of going unheard.
 */
export function listen(target: EventTarget, type: string, handler: (event: Event) => Promise<void>): void {
  target.addEventListener(type, (event) => { handler(event).catch(reportError) })
}

import type { Page } from 'playwright-core'
import type { BrowserEntry } from '../../conformance/config.ts'

/** A screenshot a module asked for (ExpectLoginPage, ExpectRedirectUriErrorPage, ...), as the suite stores it. */
export interface Placeholder {
  url: string
  /** The text of the element the config waited for, matched by its regexp. */
  text: string
  regexp: string
  optional: boolean
}

/** Spring's PatternMatchUtils.simpleMatch, as the suite matches URLs: `*` is any run of characters. */
export function globMatch(pattern: string, value: string): boolean {
  const regex = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')
  return new RegExp(`^${regex}$`, 's').test(value)
}

/**
 * The conformance suite's browser automation (frontchannel/BrowserControl.java) with Chromium:
 * for a URL a module visits, the first `browser` entry whose `match` fits (and whose
 * `match-limit` is not used up); each task must find the browser on a URL its `match` fits
 * (an optional task is skipped otherwise, a required one fails the module), then runs its
 * commands: click, text, wait (for a URL, an element, or an element's text, which can fill the
 * module's screenshot). What fails here would fail the real run.
 */
export class SuiteBrowser {
  readonly page: Page
  readonly visited: string[] = []
  readonly placeholders: Placeholder[] = []
  readonly #entries: BrowserEntry[]

  constructor(page: Page, entries: BrowserEntry[]) {
    this.page = page
    this.#entries = structuredClone(entries)
  }

  /** BrowserControl.goToUrl, then the WebRunner's tasks, to the end. */
  async goTo(url: string): Promise<void> {
    const entry = this.#entries.find((e) => globMatch(e.match, url) && (e['match-limit'] === undefined || e['match-limit'] > 0))
    if (!entry) throw new Error(`no browser entry matches ${url}: the suite would leave it to a person`)
    if (entry['match-limit'] !== undefined) entry['match-limit']--
    this.visited.push(url)
    await this.page.goto(url)
    for (const task of entry.tasks) {
      await this.page.waitForLoadState('load')
      const current = this.page.url()
      if (!globMatch(task.match ?? '*', current)) {
        if (task.optional) continue
        throw new Error(`unexpected url for task "${task.task}": ${current} does not match ${task.match}`)
      }
      for (const command of task.commands ?? []) await this.#run(command.map(String), task.task)
    }
    await this.page.waitForLoadState('load')
  }

  async #run([command, type, target, ...rest]: string[], task: string): Promise<void> {
    const what = `${task}: ${command} ${type} ${target}`
    if (command === 'click' || command === 'text') {
      const element = this.page.locator(selector(type!, target!)).first()
      const optional = (command === 'click' ? rest[0] : rest[1]) === 'optional'
      if (await element.count() === 0) {
        if (optional) return
        throw new Error(`${what}: no such element on ${this.page.url()}`)
      }
      if (command === 'text') return void await element.fill(rest[0]!)
      // WebDriver's click blocks until a page the click loads has loaded (a form post and its redirects).
      const navigated = this.page.waitForEvent('framenavigated', { timeout: 2000 }).catch(() => undefined)
      await element.click()
      await navigated
      await this.page.waitForLoadState('load')
      return
    }
    if (command !== 'wait') throw new Error(`${what}: not a command the suite knows`)
    const timeout = Number(rest[0]) * 1000
    if (type === 'contains') return void await this.page.waitForURL((u) => u.href.includes(target!), { timeout })
    if (type === 'match') return void await this.page.waitForURL(new RegExp(target!), { timeout })
    const element = this.page.locator(selector(type!, target!)).first()
    const [, regexp, action] = rest
    if (!regexp) return void await element.waitFor({ state: 'attached', timeout }).catch(() => { throw new Error(`${what}: timed out waiting on ${this.page.url()}`) })
    const pattern = new RegExp(regexp)
    const until = Date.now() + timeout
    for (;;) {
      const text = await element.count() ? await element.innerText() : undefined
      if (text !== undefined && pattern.test(text)) {
        if (action === 'update-image-placeholder' || action === 'update-image-placeholder-optional') {
          this.placeholders.push({ url: this.page.url(), text, regexp, optional: action.endsWith('optional') })
        }
        return
      }
      if (Date.now() > until) throw new Error(`${what}: timed out waiting for ${regexp} on ${this.page.url()} (text: ${text})`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

/** BrowserControl.getSelector in Playwright's terms. */
function selector(type: string, target: string): string {
  switch (type) {
    case 'id': return `[id="${target}"]`
    case 'name': return `[name="${target}"]`
    case 'css': return target
    case 'xpath': return `xpath=${target}`
    case 'class': return `.${target}`
    default: throw new Error(`not a selector type the suite knows: ${type}`)
  }
}

import fs from 'node:fs'
import path from 'node:path'
import Handlebars from 'handlebars'
import { DEFAULT_BRAND, type Brand } from '../config/config.ts'

export const LOCALES = ['ko', 'en'] as const
export type Locale = (typeof LOCALES)[number]
export const DEFAULT_LOCALE: Locale = 'ko'

type Messages = Record<string, string>

/**
 * Server-rendered pages: handlebars templates in views/pages inside views/layouts/main.hbs, with
 * a `t` helper reading views/locales/{ko,en}.json. Templates are compiled once at start-up.
 * `{{service}}` and `{{operator}}` in a message are the operator's names (config `brand`),
 * filled in at load: config refuses names with markup characters, so they are safe as they are.
 */
export class Views {
  readonly #pages = new Map<string, Handlebars.TemplateDelegate>()
  readonly #layouts = new Map<string, Handlebars.TemplateDelegate>()
  readonly #messages: Record<Locale, Messages>
  readonly #scriptMessages = new Map<string, string>()

  constructor(dir: string, brand: Brand = DEFAULT_BRAND) {
    const hbs = Handlebars.create()
    const load = (locale: Locale): Messages => {
      const names = brand[locale]
      const raw = JSON.parse(fs.readFileSync(path.join(dir, 'locales', `${locale}.json`), 'utf8')) as Messages
      return Object.fromEntries(Object.entries(raw).map(([key, text]) => [key, text.replaceAll('{{service}}', names.service).replaceAll('{{operator}}', names.operator)]))
    }
    this.#messages = Object.fromEntries(LOCALES.map((l) => [l, load(l)])) as Record<Locale, Messages>
    hbs.registerHelper('t', (key: string, options: Handlebars.HelperOptions) => {
      const messages = (options.data as { root: { messages: Messages } }).root.messages
      const text = messages[key] ?? this.#messages.en[key]
      // An unknown key is shown as itself, escaped: a key built from a request (a page's state)
      // must not become markup. The messages themselves are trusted.
      if (text === undefined) return hbs.escapeExpression(String(key))
      // {{name}} placeholders are filled with escaped values.
      return new hbs.SafeString(text.replace(/\{\{(\w+)\}\}/g, (_, name: string) => hbs.escapeExpression(String(options.hash[name] ?? ''))))
    })
    const compile = (file: string) => hbs.compile(fs.readFileSync(file, 'utf8'), { strict: false })
    const partials = path.join(dir, 'partials')
    for (const file of fs.existsSync(partials) ? fs.readdirSync(partials) : []) {
      if (file.endsWith('.hbs')) hbs.registerPartial(file.slice(0, -4), fs.readFileSync(path.join(partials, file), 'utf8'))
    }
    hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b)
    hbs.registerHelper('concat', (...args: unknown[]) => args.slice(0, -1).join(''))
    hbs.registerHelper('or', (...args: unknown[]) => args.slice(0, -1).some(Boolean))
    for (const file of fs.readdirSync(path.join(dir, 'layouts'))) {
      if (file.endsWith('.hbs')) this.#layouts.set(file.slice(0, -4), compile(path.join(dir, 'layouts', file)))
    }
    for (const file of fs.readdirSync(path.join(dir, 'pages'))) {
      if (file.endsWith('.hbs')) this.#pages.set(file.slice(0, -4), compile(path.join(dir, 'pages', file)))
    }
  }

  /**
   * Renders `page` in `locale` inside `layout` (views/layouts: main for citizens, console for the
   * operator console); `titleKey` names the message used as the document title.
   */
  render(page: string, locale: Locale, titleKey: string, data: Record<string, unknown> = {}, layout = 'main'): string {
    const template = this.#pages.get(page)
    if (!template) throw new Error(`no such view: ${page}`)
    const frame = this.#layouts.get(layout)
    if (!frame) throw new Error(`no such layout: ${layout}`)
    if ('messages' in data) throw new Error('"messages" is reserved for the locale strings in views')
    const messages = this.#messages[locale]
    const root = { ...data, messages }
    const body = template(root)
    return frame({ ...root, body, title: this.message(locale, titleKey) })
  }

  message(locale: Locale, key: string): string {
    return this.#messages[locale][key] ?? this.#messages.en[key] ?? key
  }

  /** A message with its {{placeholders}} filled in (plain text; templates escape it). */
  format(locale: Locale, key: string, params: Record<string, string | number> = {}): string {
    return this.message(locale, key).replace(/\{\{(\w+)\}\}/g, (_, name: string) => String(params[name] ?? ''))
  }

  /** The messages whose keys start with `prefix`, without it (for browser scripts). */
  messagesWithPrefix(locale: Locale, prefix: string): Record<string, string> {
    return Object.fromEntries(Object.entries(this.#messages[locale]).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]))
  }

  /**
   * The texts a page's script needs, as JSON for a <script type="application/json"> block: the
   * messages under each prefix (later prefixes win), and `errors`, the message of each error code
   * its endpoints answer with. The same for every page of a language, so made once.
   */
  scriptMessages(locale: Locale, prefixes: readonly string[], errorCodes: readonly string[]): string {
    const key = `${locale}|${prefixes.join(',')}|${errorCodes.join(',')}`
    let json = this.#scriptMessages.get(key)
    if (json === undefined) {
      json = scriptJson({
        ...Object.assign({}, ...prefixes.map((prefix) => this.messagesWithPrefix(locale, prefix))),
        errors: Object.fromEntries(errorCodes.map((code) => [code, this.message(locale, `error.${code}`)])),
      })
      this.#scriptMessages.set(key, json)
    }
    return json
  }

  has(locale: Locale, key: string): boolean {
    return key in this.#messages[locale]
  }
}

/** ui_locales (space-separated, in order of preference) wins; then Accept-Language; then Korean. */
export function pickLocale(uiLocales: unknown, acceptsLanguages: (langs: string[]) => string | false): Locale {
  if (typeof uiLocales === 'string') {
    for (const tag of uiLocales.split(' ')) {
      const base = tag.toLowerCase().split('-')[0]
      if ((LOCALES as readonly string[]).includes(base ?? '')) return base as Locale
    }
  }
  const accepted = acceptsLanguages([...LOCALES])
  return accepted ? (accepted as Locale) : DEFAULT_LOCALE
}

/** JSON for a <script type="application/json"> block: nothing in it can close the element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')
}

/** The data of the lang-switch partial: this page in the other language. */
export function languageSwitch(ctx: { method: string; path: string }, lang: Locale, page?: string): { switchHref: string; switchLang: Locale } {
  // The switch is a link, so a GET: a page a form post rendered again (its error shown) must name
  // the page the form is on, or the link would ask for the post's address and get a 405.
  const path = page ?? (ctx.method === 'GET' || ctx.method === 'HEAD' ? ctx.path : undefined)
  if (path === undefined) throw new Error(`the page rendered for ${ctx.method} ${ctx.path} must name its own address for the language switch`)
  const other: Locale = lang === 'ko' ? 'en' : 'ko'
  return { switchHref: `${path}?ui_locales=${other}`, switchLang: other }
}

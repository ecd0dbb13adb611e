import Handlebars from 'handlebars'

/**
 * A document's text as HTML for the signing page. Everything is escaped first; then, for
 * text_format "markdown", a safe subset is shaped: headings (#, ##, ###), paragraphs, lists
 * (- or 1. numbered from 1 in order), **bold**, *emphasis* and `code`. No links, images or HTML: a document cannot carry
 * anything but text to the page. Plain text keeps its paragraphs and line breaks.
 */
export function renderDocumentText(text: string, format: 'plain' | 'markdown' = 'plain'): Handlebars.SafeString {
  const blocks = text.replace(/\r\n?/g, '\n').split(/\n{2,}/).filter((b) => b.trim() !== '')
  const html = blocks.map((block) => (format === 'markdown' ? markdownBlock(block) : `<p>${lines(block, escape)}</p>`)).join('\n')
  return new Handlebars.SafeString(html)
}

const escape = (s: string) => Handlebars.escapeExpression(s)
const lines = (block: string, inline: (s: string) => string) => block.split('\n').map(inline).join('<br>')

function markdownBlock(block: string): string {
  const heading = /^(#{1,3})\s+(.*)$/.exec(block)
  if (heading && !block.includes('\n')) {
    // Headings inside a document sit below the page's own h1 and h2.
    const level = heading[1]!.length + 2
    return `<h${level}>${inline(heading[2]!)}</h${level}>`
  }
  const items = block.split('\n')
  if (items.every((l) => /^\s*[-*]\s+/.test(l))) return `<ul>${items.map((l) => `<li>${inline(l.replace(/^\s*[-*]\s+/, ''))}</li>`).join('')}</ul>`
  // A numbered list becomes <ol> only when the page would show the numbers the text has (1., 2., ...
  // in order): otherwise its lines stay as written, so what is shown is what is signed.
  if (items.every((l, i) => new RegExp(`^\\s*${i + 1}\\.\\s+`).test(l))) return `<ol>${items.map((l) => `<li>${inline(l.replace(/^\s*\d+\.\s+/, ''))}</li>`).join('')}</ol>`
  // A list right after a line of text ("제1조 …" then "- …"): the text, then the list, when the
  // list runs to the end of the block and would be shaped on its own.
  const start = items.findIndex((l) => /^\s*([-*]|\d+\.)\s+/.test(l))
  if (start > 0) {
    const list = markdownBlock(items.slice(start).join('\n'))
    if (list.startsWith('<ul>') || list.startsWith('<ol>')) return `<p>${lines(items.slice(0, start).join('\n'), inline)}</p>${list}`
  }
  return `<p>${lines(block, inline)}</p>`
}

/** Inline marks on escaped text: the markers themselves are never HTML. */
function inline(raw: string): string {
  // Odd parts were between backticks (code); escaping turns a backtick into an entity, so split first.
  return raw.split(/`([^`]+)`/).map((part, i) => i % 2 ? `<code>${escape(part)}</code>` : escape(part)
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/(^|[^*\w])\*([^*\s][^*]*)\*(?!\w)/g, '$1<em>$2</em>')).join('')
}

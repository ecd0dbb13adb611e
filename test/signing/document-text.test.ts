import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import Handlebars from 'handlebars'
import { renderDocumentText } from '../../src/signing/document-text.ts'

const plain = (text: string) => renderDocumentText(text).toHTML()
const markdown = (text: string) => renderDocumentText(text, 'markdown').toHTML()

/** The only tags the module makes, never with attributes. */
const SHAPED = /<\/?(?:p|br|h3|h4|h5|ul|ol|li|strong|em|code)>/g

/** What a page would receive besides the shaping tags: text in which nothing is markup. */
function assertOnlyText(html: string, input: string): void {
  const rest = html.replace(SHAPED, '')
  assert.doesNotMatch(rest, /[<>"'`=]/, `${JSON.stringify(input)} gave ${JSON.stringify(html)}`)
  assert.doesNotMatch(rest, /&(?!(?:amp|lt|gt|quot|#x27|#x60|#x3D);)/, `every & starts an entity the escaping made: ${JSON.stringify(html)}`)
}

const HOSTILE = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '"><svg onload=alert(1)>',
  '\'onmouseover=\'alert(1)',
  '<a href="javascript:alert(1)">click</a>',
  '[click](javascript:alert(1))',
  '[click](https://evil.example "title")',
  '![pixel](https://evil.example/track.png)',
  '<https://evil.example>',
  '[ref]: javascript:alert(1)',
  '&lt;script&gt; &#60;b&#62; &amp;',
  '<!-- comment --> <![CDATA[x]]>',
  '<style>body{display:none}</style>',
  '`<script>`alert(1)`</script>`',
  '**<b>bold</b>** *<i>em</i>* # <h1>',
  '# <script>alert(1)</script>',
  '- <li onclick=x>item',
  '1. <ol start=99>',
  '*`*`*',
  '**`**`**',
  '\'*x*\' "**y**"',
]

describe('a document\'s text on the signing page', () => {
  describe('plain text (the default)', () => {
    it('is plain unless asked for markdown', () => {
      assert.equal(renderDocumentText('# 제1조 **대출**').toHTML(), '<p># 제1조 **대출**</p>')
      assert.equal(renderDocumentText('# 제1조 **대출**', 'plain').toHTML(), '<p># 제1조 **대출**</p>')
    })

    it('escapes every character that HTML could read as markup', () => {
      assert.equal(plain('<b> & " \' ` ='), '<p>&lt;b&gt; &amp; &quot; &#x27; &#x60; &#x3D;</p>')
      assert.equal(plain('<script>alert("x")</script>'), '<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</p>')
    })

    it('escapes entities as they are written, so the page shows them rather than what they stand for', () => {
      assert.equal(plain('&lt;b&gt; &#60;'), '<p>&amp;lt;b&amp;gt; &amp;#60;</p>')
    })

    it('keeps paragraphs apart and line breaks within them', () => {
      assert.equal(plain('제1조\n대출 금액\n\n제2조'), '<p>제1조<br>대출 금액</p>\n<p>제2조</p>')
    })

    it('reads CRLF and a lone CR as line breaks', () => {
      assert.equal(plain('a\r\nb\r\n\r\nc\rd\r\re'), '<p>a<br>b</p>\n<p>c<br>d</p>\n<p>e</p>')
    })

    it('makes one paragraph break of any number of blank lines, and drops blank paragraphs', () => {
      assert.equal(plain('a\n\n\n\n\nb'), '<p>a</p>\n<p>b</p>')
      assert.equal(plain('\n\na\n\n  \t \n\nb\n\n'), '<p>a</p>\n<p>b</p>')
    })

    it('keeps spaces and tabs within a line as they are', () => {
      assert.equal(plain('a \t b'), '<p>a \t b</p>')
    })

    it('renders an empty or blank text as nothing', () => {
      assert.equal(plain(''), '')
      assert.equal(plain('\n\n \n\n'), '')
    })

    it('is a SafeString, which a template inserts as it is, not escaped twice', () => {
      const html = renderDocumentText('a < b')
      assert.ok(html instanceof Handlebars.SafeString)
      assert.equal(Handlebars.compile('<div>{{html}}</div>')({ html }), '<div><p>a &lt; b</p></div>')
    })
  })

  describe('markdown', () => {
    it('shapes #, ## and ### headings below the page\'s own h1 and h2', () => {
      assert.equal(markdown('# 대출 약정서'), '<h3>대출 약정서</h3>')
      assert.equal(markdown('## 제1조'), '<h4>제1조</h4>')
      assert.equal(markdown('### 1항'), '<h5>1항</h5>')
    })

    it('keeps deeper headings and # without a space as text', () => {
      assert.equal(markdown('#### 4단계'), '<p>#### 4단계</p>')
      assert.equal(markdown('#1 고객'), '<p>#1 고객</p>')
    })

    it('takes a heading only as a paragraph of its own', () => {
      assert.equal(markdown('# 제목\n본문'), '<p># 제목<br>본문</p>')
      assert.equal(markdown('# 제목\n\n본문'), '<h3>제목</h3>\n<p>본문</p>')
    })

    it('shapes paragraphs and line breaks as plain text does', () => {
      assert.equal(markdown('a\nb\r\n\r\nc'), '<p>a<br>b</p>\n<p>c</p>')
    })

    it('shapes - (and *) lists', () => {
      assert.equal(markdown('- 원금\n- 이자'), '<ul><li>원금</li><li>이자</li></ul>')
      assert.equal(markdown('* 원금\n  * 이자'), '<ul><li>원금</li><li>이자</li></ul>')
    })

    it('shapes 1. lists numbered as the page would number them', () => {
      assert.equal(markdown('1. 원금\n2. 이자'), '<ol><li>원금</li><li>이자</li></ol>')
    })

    it('keeps a list\'s own numbers when the page would number it otherwise: what is shown is what is signed', () => {
      // An <ol> shows 1., 2.: a list that starts at 3, skips, or numbers 1) would read otherwise than the signed text.
      assert.equal(markdown('3. 원금\n4. 이자'), '<p>3. 원금<br>4. 이자</p>')
      assert.equal(markdown('1. 원금\n3. 이자'), '<p>1. 원금<br>3. 이자</p>')
      assert.equal(markdown('1) 원금\n2) 이자'), '<p>1) 원금<br>2) 이자</p>')
    })

    it('shapes a list right after a line of text as that line, then the list (#17: it showed as plain lines)', () => {
      assert.equal(markdown('제1조 약정\n- 기간: 1년\n- 해지: 언제든지'), '<p>제1조 약정</p><ul><li>기간: 1년</li><li>해지: 언제든지</li></ul>')
      assert.equal(markdown('다음과 같습니다.\n둘째 줄\n1. 원금\n2. 이자'), '<p>다음과 같습니다.<br>둘째 줄</p><ol><li>원금</li><li>이자</li></ol>')
      assert.equal(markdown('다음과 같습니다.\n3. 원금\n4. 이자'), '<p>다음과 같습니다.<br>3. 원금<br>4. 이자</p>', 'numbers the page would change stay as written')
      assert.equal(markdown('앞\n- 원금\n뒤'), '<p>앞<br>- 원금<br>뒤</p>', 'only a list that ends the block')
    })

    it('keeps a block as a paragraph unless every line of it is a list item', () => {
      assert.equal(markdown('- 원금\n이자'), '<p>- 원금<br>이자</p>')
      assert.equal(markdown('1. 원금\n- 이자'), '<p>1. 원금<br>- 이자</p>')
      assert.equal(markdown('-원금'), '<p>-원금</p>')
      assert.equal(markdown('1000. 원금'), '<p>1000. 원금</p>')
    })

    it('shapes **bold**, *emphasis* and `code`', () => {
      assert.equal(markdown('대출 금액은 **1,500,000원**입니다.'), '<p>대출 금액은 <strong>1,500,000원</strong>입니다.</p>')
      assert.equal(markdown('*반드시* 읽으십시오'), '<p><em>반드시</em> 읽으십시오</p>')
      assert.equal(markdown('계좌 `012-345`'), '<p>계좌 <code>012-345</code></p>')
      assert.equal(markdown('*이자 **연 5%** 포함*'), '<p><em>이자 <strong>연 5%</strong> 포함</em></p>')
    })

    it('shapes inline marks inside headings and list items', () => {
      assert.equal(markdown('## **중요** 조항'), '<h4><strong>중요</strong> 조항</h4>')
      assert.equal(markdown('- *연체* 이자 `5%`'), '<ul><li><em>연체</em> 이자 <code>5%</code></li></ul>')
    })

    it('leaves asterisks between word characters and unmatched marks as text', () => {
      assert.equal(markdown('2*3*4'), '<p>2*3*4</p>')
      assert.equal(markdown('file*name* x*2* *half*way'), '<p>file*name* x*2* *half*way</p>')
      assert.equal(markdown('a * b * c'), '<p>a * b * c</p>')
      assert.equal(markdown('**unclosed'), '<p>**unclosed</p>')
      assert.equal(markdown('an ` alone'), '<p>an &#x60; alone</p>')
    })

    it('shows code as it is written: escaped, with no marks shaped inside', () => {
      assert.equal(markdown('`**not bold** <b>`'), '<p><code>**not bold** &lt;b&gt;</code></p>')
      assert.equal(markdown('`a&b`'), '<p><code>a&amp;b</code></p>')
    })
  })

  describe('no links, images or HTML reach the page', () => {
    it('shows a markdown link, javascript: URL included, as the text it is', () => {
      assert.equal(markdown('[확인](javascript:alert(1))'), '<p>[확인](javascript:alert(1))</p>')
      assert.equal(markdown('[약관](https://evil.example)'), '<p>[약관](https://evil.example)</p>')
    })

    it('shows image and autolink syntax as text', () => {
      assert.equal(markdown('![x](https://evil.example/t.png)'), '<p>![x](https://evil.example/t.png)</p>')
      assert.equal(markdown('<https://evil.example>'), '<p>&lt;https://evil.example&gt;</p>')
    })

    it('escapes HTML written in markdown, in every kind of block and mark', () => {
      assert.equal(markdown('<a href="javascript:alert(1)">x</a>'), '<p>&lt;a href&#x3D;&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;</p>')
      assert.equal(markdown('# <script>alert(1)</script>'), '<h3>&lt;script&gt;alert(1)&lt;/script&gt;</h3>')
      assert.equal(markdown('- <img src=x onerror=alert(1)>'), '<ul><li>&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;</li></ul>')
      assert.equal(markdown('**<img src=x onerror=alert(1)>**'), '<p><strong>&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;</strong></p>')
      assert.equal(markdown('*"onmouseover=x*'), '<p><em>&quot;onmouseover&#x3D;x</em></p>')
      assert.equal(markdown('`</code><script>`'), '<p><code>&lt;/code&gt;&lt;script&gt;</code></p>')
    })

    it('does not break an escaped character apart when it shapes marks next to it', () => {
      assert.equal(markdown('\'*x*\''), '<p>&#x27;<em>x</em>&#x27;</p>')
      assert.equal(markdown('<**b**>'), '<p>&lt;<strong>b</strong>&gt;</p>')
    })

    it('gives nothing but its own attribute-less tags and escaped text, for hostile texts in either format', () => {
      for (const text of HOSTILE) {
        assertOnlyText(plain(text), text)
        assertOnlyText(markdown(text), text)
      }
      assert.equal(plain(HOSTILE.join('\n\n')).match(/<[a-z]/g)!.join(''), '<p'.repeat(HOSTILE.length), 'plain text makes nothing but paragraphs')
    })

    it('gives nothing but its own attribute-less tags and escaped text, for any text (property)', () => {
      const pieces = fc.constantFrom('<', '>', '&', '"', '\'', '`', '=', '*', '**', '#', '# ', '- ', '1. ', '\n', '\n\n', '\r', ' ', '[', ']', '(', ')', '!',
        'a', '약', 'javascript:', 'script', 'img', '/', ';', '&lt;', '&#x27;')
      const texts = fc.oneof(fc.array(pieces, { maxLength: 30 }).map((p) => p.join('')), fc.string({ unit: 'binary', maxLength: 60 }))
      fc.assert(fc.property(texts, fc.constantFrom('plain' as const, 'markdown' as const), (text, format) => {
        assertOnlyText(renderDocumentText(text, format).toHTML(), text)
      }), { numRuns: 3000 })
    })
  })
})

import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { parseSignatureRequest, SIGNATURE_LIMITS, SIGNATURE_TYPE, SignatureRequestError, signaturesResource } from '../../src/signing/request.ts'

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('base64url')

/** A document that is its text: sha256 is the text's. */
const doc = (text = '대출 금액은 **1,500,000원**입니다.', more: Record<string, unknown> = {}) => ({ title: '대출 약정서', text, sha256: sha256(text), ...more })
const transaction = (more: Record<string, unknown> = {}) => ({ amount: '1500000', currency: 'KRW', payee: '우체국은행', account: '012-345-678901', ...more })
const request = (more: Record<string, unknown>) => ({ type: SIGNATURE_TYPE, ...more })

/** parseSignatureRequest refuses `detail` with a SignatureRequestError whose message is `message`. */
function refuses(detail: unknown, message: string): void {
  assert.throws(() => parseSignatureRequest(detail), (err: unknown) => {
    assert.ok(err instanceof SignatureRequestError, `a SignatureRequestError, not ${String(err)}`)
    assert.equal(err.name, 'SignatureRequestError')
    assert.equal(err.message, message)
    return true
  })
}

const CONTROL_MESSAGE = 'must not contain control, zero-width or bidirectional override characters'
const TEXT_CONTROL_MESSAGE = 'must not contain control, zero-width or bidirectional override characters (line breaks and tabs are fine)'
const SCRIPTS_MESSAGE = 'must be written in Hangul, Latin or Han letters, digits and common punctuation'
const RTL_MESSAGE = 'must not contain right-to-left letters (they reorder what is shown)'
const NOT_ITS_TEXT = 'is not the SHA-256 of its text (a document without another mime_type is signed as its text)'

describe('a postcert_signature authorization detail', () => {
  it('names its type and its limits as docs/signatures.md documents them', () => {
    assert.equal(SIGNATURE_TYPE, 'postcert_signature')
    assert.deepEqual({ ...SIGNATURE_LIMITS }, { documents: 20, titleChars: 200, textChars: 100_000, payeeChars: 200, accountChars: 100 })
    assert.equal(signaturesResource('https://postcert.example'), 'https://postcert.example/signatures')
  })

  describe('what is accepted', () => {
    it('takes documents alone and gives them back as sent', () => {
      const document = doc()
      assert.deepEqual(parseSignatureRequest(request({ documents: [document] })), { type: 'postcert_signature', documents: [document] })
    })

    it('takes a transaction alone', () => {
      assert.deepEqual(parseSignatureRequest(request({ transaction: transaction() })), { type: 'postcert_signature', transaction: transaction() })
    })

    it('takes documents and a transaction together', () => {
      const parsed = parseSignatureRequest(request({ documents: [doc('one'), doc('two', { text_format: 'markdown' })], transaction: transaction() }))
      assert.deepEqual(parsed, { type: 'postcert_signature', documents: [doc('one'), doc('two', { text_format: 'markdown' })], transaction: transaction() })
    })

    it('takes both text formats', () => {
      assert.equal(parseSignatureRequest(request({ documents: [doc('x', { text_format: 'plain' })] })).documents![0]!.text_format, 'plain')
      assert.equal(parseSignatureRequest(request({ documents: [doc('x', { text_format: 'markdown' })] })).documents![0]!.text_format, 'markdown')
    })
  })

  describe('the detail itself', () => {
    it('refuses what is not an object', () => {
      refuses(undefined, 'Invalid input: expected object, received undefined')
      refuses(null, 'Invalid input: expected object, received null')
      refuses('postcert_signature', 'Invalid input: expected object, received string')
      refuses([request({ transaction: transaction() })], 'Invalid input: expected object, received array')
    })

    it('refuses a detail of another type, or without one', () => {
      refuses({ transaction: transaction() }, 'type: Invalid input: expected "postcert_signature"')
      refuses({ type: 'payment_initiation', transaction: transaction() }, 'type: Invalid input: expected "postcert_signature"')
      refuses({ type: 'POSTCERT_SIGNATURE', transaction: transaction() }, 'type: Invalid input: expected "postcert_signature"')
    })

    it('refuses a detail with nothing to sign', () => {
      refuses(request({}), 'documents or transaction: there is nothing to sign')
      refuses(request({ documents: undefined, transaction: undefined }), 'documents or transaction: there is nothing to sign')
    })

    it('refuses members it does not know, naming them (RFC 9396 members such as locations too)', () => {
      refuses(request({ transaction: transaction(), locations: ['https://rp.example'] }), 'unknown member "locations"')
      refuses(request({ transaction: transaction(), actions: ['sign'], extra: 1 }), 'unknown member "actions", "extra"')
    })
  })

  describe('documents', () => {
    it('refuses documents that are not a list', () => {
      refuses(request({ documents: doc() }), 'documents: Invalid input: expected array, received object')
      refuses(request({ documents: 'contract' }), 'documents: Invalid input: expected array, received string')
    })

    it('refuses an empty list of documents, even beside a transaction', () => {
      refuses(request({ documents: [] }), 'documents: must list at least one document')
      refuses(request({ documents: [], transaction: transaction() }), 'documents: must list at least one document')
    })

    it(`takes ${SIGNATURE_LIMITS.documents} documents and refuses ${SIGNATURE_LIMITS.documents + 1}`, () => {
      const documents = Array.from({ length: SIGNATURE_LIMITS.documents + 1 }, (_, i) => doc(`조항 ${i}`))
      assert.equal(parseSignatureRequest(request({ documents: documents.slice(0, 20) })).documents!.length, 20)
      refuses(request({ documents }), 'documents: must list at most 20 documents')
    })

    it('refuses a document that is not an object', () => {
      refuses(request({ documents: ['text'] }), 'documents[0]: Invalid input: expected object, received string')
    })

    it('refuses a document without a title, text or sha256', () => {
      const { title: _t, ...noTitle } = doc()
      const { text: _x, ...noText } = doc()
      const { sha256: _s, ...noDigest } = doc()
      refuses(request({ documents: [noTitle] }), 'documents[0].title: Invalid input: expected string, received undefined')
      refuses(request({ documents: [noText] }), 'documents[0].text: Invalid input: expected string, received undefined')
      refuses(request({ documents: [noDigest] }), 'documents[0].sha256: Invalid input: expected string, received undefined')
    })

    it('refuses members of the wrong type', () => {
      refuses(request({ documents: [doc('x', { title: 42 })] }), 'documents[0].title: Invalid input: expected string, received number')
      refuses(request({ documents: [{ title: 'T', text: ['x'], sha256: sha256('x') }] }), 'documents[0].text: Invalid input: expected string, received array')
      refuses(request({ documents: [doc('x', { mime_type: null })] }), 'documents[0].mime_type: Invalid input: expected string, received null')
    })

    it('refuses a document member it does not know, naming where', () => {
      refuses(request({ documents: [doc(), doc('x', { url: 'https://evil.example/real.pdf' })] }), 'documents[1]: unknown member "url"')
      refuses(request({ documents: [doc('x', { text_sha256: sha256('x') })] }), 'documents[0]: unknown member "text_sha256"')
    })

    it('names the document at fault by its index', () => {
      refuses(request({ documents: [doc('a'), doc('b'), doc('c', { title: '' })] }), 'documents[2].title: must not be blank')
    })

    describe('title', () => {
      it('refuses a blank title', () => {
        refuses(request({ documents: [doc('x', { title: '' })] }), 'documents[0].title: must not be blank')
        refuses(request({ documents: [doc('x', { title: '   ' })] }), 'documents[0].title: must not be blank')
        refuses(request({ documents: [doc('x', { title: '\u3000' })] }), 'documents[0].title: must not be blank')
      })

      it(`takes a title of ${SIGNATURE_LIMITS.titleChars} characters and refuses ${SIGNATURE_LIMITS.titleChars + 1}`, () => {
        assert.equal(parseSignatureRequest(request({ documents: [doc('x', { title: '약'.repeat(200) })] })).documents![0]!.title, '약'.repeat(200))
        refuses(request({ documents: [doc('x', { title: '약'.repeat(201) })] }), 'documents[0].title: must be at most 200 characters')
      })

      it('refuses control characters in a title, line breaks and tabs included', () => {
        for (const c of ['\n', '\r', '\t', '\u0000', '\u001b', '\u007f', '\u0085', '\u009f']) {
          refuses(request({ documents: [doc('x', { title: `대출${c}약정서` })] }), `documents[0].title: ${CONTROL_MESSAGE}`)
        }
      })

      it('refuses zero-width, bidirectional override and isolate characters in a title', () => {
        for (const c of ['\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\u202a', '\u202e', '\u2060', '\u2066', '\u2069', '\ufeff', '\u061c']) {
          refuses(request({ documents: [doc('x', { title: `대출${c}약정서` })] }), `documents[0].title: ${CONTROL_MESSAGE}`)
        }
      })

      it('takes Hangul, Latin and Han letters, digits and common punctuation in a title', () => {
        const title = '대출 약정서 (Loan Agreement) 貸出 約定書 No. 2025-01: 1,500,000원 ₩ & 100%'
        assert.equal(parseSignatureRequest(request({ documents: [doc('x', { title })] })).documents![0]!.title, title)
      })

      it('refuses other scripts in a title, look-alike letters included', () => {
        for (const title of ['Аgreement' /* Cyrillic А */, 'Αgreement' /* Greek Α */, 'שלום', 'عقد', 'ข้อตกลง', 'ひらがな', /* a combining mark */ 'e\u0301']) {
          refuses(request({ documents: [doc('x', { title })] }), `documents[0].title: ${SCRIPTS_MESSAGE}`)
        }
      })
    })

    describe('text', () => {
      it('refuses an empty text', () => {
        refuses(request({ documents: [doc('')] }), 'documents[0].text: must not be empty')
      })

      it('refuses a text of nothing but white space: the page would show an empty document', () => {
        refuses(request({ documents: [doc('   ')] }), 'documents[0].text: must not be blank')
        refuses(request({ documents: [doc('\n\n\t')] }), 'documents[0].text: must not be blank')
      })

      it(`takes a text of ${SIGNATURE_LIMITS.textChars} characters and refuses ${SIGNATURE_LIMITS.textChars + 1}`, () => {
        const longest = 'a'.repeat(SIGNATURE_LIMITS.textChars)
        assert.equal(parseSignatureRequest(request({ documents: [doc(longest)] })).documents![0]!.text.length, 100_000)
        refuses(request({ documents: [doc(`${longest}a`)] }), 'documents[0].text: must be at most 100000 characters')
      })

      it('takes line breaks and tabs in a text', () => {
        const text = '제1조\r\n\t대출 금액\n\n제2조\r이자'
        assert.equal(parseSignatureRequest(request({ documents: [doc(text)] })).documents![0]!.text, text)
      })

      it('refuses other control characters in a text', () => {
        for (const c of ['\u0000', '\u0008', '\u000b', '\u000c', '\u000e', '\u001f', '\u007f', '\u0085', '\u009f']) {
          refuses(request({ documents: [doc(`a${c}b`)] }), `documents[0].text: ${TEXT_CONTROL_MESSAGE}`)
        }
      })

      it('refuses zero-width, bidirectional override and isolate characters in a text', () => {
        for (const c of ['\u200b', '\u200d', '\u200f', '\u202a', '\u202d', '\u202e', '\u2060', '\u2066', '\u2067', '\u2068', '\u2069', '\ufeff', '\u061c']) {
          refuses(request({ documents: [doc(`1,500,000${c}원`)] }), `documents[0].text: ${TEXT_CONTROL_MESSAGE}`)
        }
      })

      it('refuses right-to-left letters in a text, of the basic and the supplementary planes', () => {
        const letters = {
          Hebrew: '\u05d0', Arabic: '\u0627', Syriac: '\u0710', Thaana: '\u0780', NKo: '\u07ca',
          'Hebrew presentation form': '\ufb1d', 'Arabic presentation form': '\ufe70', Cypriot: '\u{10800}', Adlam: '\u{1e900}',
        }
        for (const [script, letter] of Object.entries(letters)) {
          assert.throws(() => parseSignatureRequest(request({ documents: [doc(`${letter} 123-456 789`)] })),
            { name: 'SignatureRequestError', message: `documents[0].text: ${RTL_MESSAGE}` }, script)
        }
      })

      it('takes left-to-right scripts other than Hangul, Latin and Han in a text', () => {
        const text = 'Договор · Σύμβαση · 契約書 · 계약서'
        assert.equal(parseSignatureRequest(request({ documents: [doc(text)] })).documents![0]!.text, text)
      })
    })

    describe('text_format, mime_type and sha256', () => {
      it('refuses a text format other than plain or markdown', () => {
        refuses(request({ documents: [doc('x', { text_format: 'html' })] }), 'documents[0].text_format: Invalid option: expected one of "plain"|"markdown"')
        refuses(request({ documents: [doc('x', { text_format: 'Markdown' })] }), 'documents[0].text_format: Invalid option: expected one of "plain"|"markdown"')
      })

      it('refuses a mime_type that is not a media type', () => {
        for (const mime_type of ['pdf', 'Application/PDF', 'application/pdf; charset=utf-8', 'application/', '/pdf', 'text/plain ', '']) {
          refuses(request({ documents: [doc('x', { mime_type, sha256: sha256('bytes') })] }), 'documents[0].mime_type: must be a media type such as application/pdf')
        }
      })

      it('takes a mime_type of 100 characters and refuses 101', () => {
        const of = (length: number) => `application/${'x'.repeat(length - 'application/'.length)}`
        assert.equal(parseSignatureRequest(request({ documents: [doc('x', { mime_type: of(100), sha256: sha256('bytes') })] })).documents![0]!.mime_type, of(100))
        refuses(request({ documents: [doc('x', { mime_type: of(101), sha256: sha256('bytes') })] }), 'documents[0].mime_type: Too big: expected string to have <=100 characters')
      })

      it('refuses a sha256 that is not 43 characters of base64url', () => {
        const digest = sha256('x')
        for (const bad of [digest.slice(1), `${digest}A`, `${digest}=`, `${digest.slice(1)}+`, `${digest.slice(1)}/`, createHash('sha256').update('x').digest('hex'), '']) {
          refuses(request({ documents: [doc('x', { sha256: bad })] }), 'documents[0].sha256: must be a SHA-256 digest in base64url (43 characters)')
        }
      })

      it('refuses a document without mime_type whose sha256 is not its text\'s: the subscriber signs what they read', () => {
        refuses(request({ documents: [doc('빌린 돈 100원', { sha256: sha256('빌린 돈 1,000,000원') })] }), `documents[0].sha256: ${NOT_ITS_TEXT}`)
        refuses(request({ documents: [doc('a'), doc('b', { sha256: sha256('a') })] }), `documents[1].sha256: ${NOT_ITS_TEXT}`)
      })

      it('takes the digest of the text as UTF-8', () => {
        const text = '원금 ₩1,500,000 — 貸出'
        const utf8 = createHash('sha256').update(Buffer.from(text, 'utf8')).digest('base64url')
        assert.equal(parseSignatureRequest(request({ documents: [{ title: 'T', text, sha256: utf8 }] })).documents![0]!.sha256, utf8)
        refuses(request({ documents: [{ title: 'T', text, sha256: createHash('sha256').update(Buffer.from(text, 'utf16le')).digest('base64url') }] }),
          `documents[0].sha256: ${NOT_ITS_TEXT}`)
      })

      it('holds text/plain and text/markdown documents to their text\'s digest too, and adds no text_sha256', () => {
        for (const mime_type of ['text/plain', 'text/markdown']) {
          refuses(request({ documents: [doc('x', { mime_type, sha256: sha256('other bytes') })] }), `documents[0].sha256: ${NOT_ITS_TEXT}`)
          const [document] = parseSignatureRequest(request({ documents: [doc('x', { mime_type })] })).documents!
          assert.deepEqual(document, doc('x', { mime_type }))
        }
        assert.equal(parseSignatureRequest(request({ documents: [doc('x')] })).documents![0]!.text_sha256, undefined)
      })

      it('takes another media type\'s sha256 as the bytes\', and signs its text\'s digest beside it (text_sha256)', () => {
        const text = '대출 약정서 PDF: 대출 금액 1,500,000원'
        const bytes = sha256('%PDF-1.7 ...')
        const [document] = parseSignatureRequest(request({ documents: [{ title: '약정서', text, mime_type: 'application/pdf', sha256: bytes }] })).documents!
        assert.deepEqual(document, { title: '약정서', text, mime_type: 'application/pdf', sha256: bytes, text_sha256: sha256(text) })
      })

      it('adds text_sha256 to each document that needs it, and to no other', () => {
        const documents = parseSignatureRequest(request({ documents: [doc('a'), doc('b', { mime_type: 'image/png', sha256: sha256('png') }), doc('c', { mime_type: 'text/plain' })] })).documents!
        assert.deepEqual(documents.map((d) => d.text_sha256), [undefined, sha256('b'), undefined])
      })
    })
  })

  describe('transaction', () => {
    it('refuses a transaction that is not an object', () => {
      refuses(request({ transaction: '1500000 KRW' }), 'transaction: Invalid input: expected object, received string')
    })

    it('refuses a transaction without one of its four members', () => {
      for (const member of ['amount', 'currency', 'payee', 'account']) {
        const partial: Record<string, unknown> = transaction()
        delete partial[member]
        refuses(request({ transaction: partial }), `transaction.${member}: Invalid input: expected string, received undefined`)
      }
    })

    it('refuses a transaction member it does not know', () => {
      refuses(request({ transaction: transaction({ memo: '이자 포함' }) }), 'transaction: unknown member "memo"')
    })

    it('takes an amount as a decimal string, of up to 15 digits and 4 decimals', () => {
      for (const amount of ['0', '1', '1500000', '12.50', '0.5', '0.0001', '999999999999999', '999999999999999.9999']) {
        assert.equal(parseSignatureRequest(request({ transaction: transaction({ amount }) })).transaction!.amount, amount)
      }
    })

    it('refuses an amount that is a number, signed, in exponent form, with leading zeros, or too long', () => {
      refuses(request({ transaction: transaction({ amount: 1500000 }) }), 'transaction.amount: Invalid input: expected string, received number')
      const message = 'transaction.amount: must be a decimal string without sign or exponent, such as "1500000" or "12.50"'
      for (const amount of ['-1', '+1', '1e6', '1E6', '01', '00', '1.', '.5', '1.23456', '1000000000000000', '1,500,000', ' 1', '1 ', '', 'NaN', 'Infinity', '0x10', '１']) {
        refuses(request({ transaction: transaction({ amount }) }), message)
      }
    })

    it('takes an ISO 4217 code as currency and refuses anything else', () => {
      assert.equal(parseSignatureRequest(request({ transaction: transaction({ currency: 'USD' }) })).transaction!.currency, 'USD')
      for (const currency of ['krw', 'KR', 'KRWW', '410', '₩', '']) {
        refuses(request({ transaction: transaction({ currency }) }), 'transaction.currency: must be an ISO 4217 code such as KRW')
      }
    })

    it(`takes a payee of ${SIGNATURE_LIMITS.payeeChars} characters and refuses ${SIGNATURE_LIMITS.payeeChars + 1}`, () => {
      assert.equal(parseSignatureRequest(request({ transaction: transaction({ payee: '은'.repeat(200) }) })).transaction!.payee, '은'.repeat(200))
      refuses(request({ transaction: transaction({ payee: '은'.repeat(201) }) }), 'transaction.payee: must be at most 200 characters')
    })

    it(`takes an account of ${SIGNATURE_LIMITS.accountChars} characters and refuses ${SIGNATURE_LIMITS.accountChars + 1}`, () => {
      assert.equal(parseSignatureRequest(request({ transaction: transaction({ account: '1'.repeat(100) }) })).transaction!.account, '1'.repeat(100))
      refuses(request({ transaction: transaction({ account: '1'.repeat(101) }) }), 'transaction.account: must be at most 100 characters')
    })

    it('refuses a blank payee or account', () => {
      refuses(request({ transaction: transaction({ payee: ' ' }) }), 'transaction.payee: must not be blank')
      refuses(request({ transaction: transaction({ account: '' }) }), 'transaction.account: must not be blank')
    })

    it('refuses control, zero-width and bidirectional characters in payee and account', () => {
      refuses(request({ transaction: transaction({ payee: '우체국\n은행' }) }), `transaction.payee: ${CONTROL_MESSAGE}`)
      refuses(request({ transaction: transaction({ account: '012-345\u202e109876' }) }), `transaction.account: ${CONTROL_MESSAGE}`)
      refuses(request({ transaction: transaction({ account: '012\u200b345' }) }), `transaction.account: ${CONTROL_MESSAGE}`)
    })

    it('refuses payee and account in other scripts, right-to-left ones included', () => {
      refuses(request({ transaction: transaction({ payee: 'Почта Банк' }) }), `transaction.payee: ${SCRIPTS_MESSAGE}`)
      refuses(request({ transaction: transaction({ payee: 'בנק הדואר' }) }), `transaction.payee: ${SCRIPTS_MESSAGE}`)
      refuses(request({ transaction: transaction({ account: '\u05d0 123-456 789' }) }), `transaction.account: ${SCRIPTS_MESSAGE}`)
    })

    it('refuses the right-to-left characters the Common script holds (Arabic punctuation and tatweel, Siyaq numbers): they reorder an account on the page too', () => {
      // Shown in a left-to-right <bdi>, '012-345 \u061f 678-901' reads '012-345 901-678 \u061f' (found by a helper in Chromium).
      refuses(request({ transaction: transaction({ account: '012-345 \u061f 678-901' }) }), `transaction.account: ${RTL_MESSAGE}`)
      refuses(request({ transaction: transaction({ account: '\u0640 123 456' }) }), `transaction.account: ${RTL_MESSAGE}`)
      refuses(request({ transaction: transaction({ payee: '우체국\u061b은행' }) }), `transaction.payee: ${RTL_MESSAGE}`)
      refuses(request({ documents: [doc('x', { title: '약정서 \u{1ec71}' })] }), `documents[0].title: ${RTL_MESSAGE}`)
    })

    it('refuses invisible characters that stand for nothing on the page (Hangul fillers, soft hyphen, tags), and a title of nothing else', () => {
      for (const invisible of ['\u3164', '\u115f', '\u1160', '\uffa0', '\u00ad', '\u{e0041}']) {
        refuses(request({ transaction: transaction({ account: `012${invisible}345` }) }), `transaction.account: ${CONTROL_MESSAGE}`)
        refuses(request({ documents: [doc(`대출${invisible}약정`)] }), `documents[0].text: ${TEXT_CONTROL_MESSAGE}`)
      }
      refuses(request({ documents: [doc('x', { title: '\u3164' })] }), `documents[0].title: ${CONTROL_MESSAGE}`)
    })
  })

  it('reports the first problem it finds, with the member at fault', () => {
    refuses(request({ documents: [doc('x', { title: '', sha256: 'short' })], transaction: transaction({ amount: '-1' }) }), 'documents[0].title: must not be blank')
    refuses(request({ documents: [doc('x', { sha256: sha256('y') })], transaction: transaction({ amount: '-1' }) }),
      'transaction.amount: must be a decimal string without sign or exponent, such as "1500000" or "12.50"')
  })
})

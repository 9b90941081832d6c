import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parse } from 'csv-parse/sync'
import fc from 'fast-check'
import { csvCell, csvRow } from '../../src/domain/csvCell.js'

describe('csvCell', () => {
  it('writes plain values as they are', () => {
    assert.equal(csvCell('John'), 'John')
    assert.equal(csvCell(''), '')
    assert.equal(csvCell(null), '')
    assert.equal(csvCell(undefined), '')
    assert.equal(csvCell(3), '3')
    assert.equal(csvCell(true), 'true')
    assert.equal(csvCell('a=b'), 'a=b')
  })

  it('quotes cells with a comma, a quote, CR or LF, doubling quotes (RFC 4180)', () => {
    assert.equal(csvCell('Doe, John'), '"Doe, John"')
    assert.equal(csvCell('say "hi"'), '"say ""hi"""')
    assert.equal(csvCell('a\nb'), '"a\nb"')
    assert.equal(csvCell('a\r\nb'), '"a\r\nb"')
  })

  it('prefixes text cells that start a formula', () => {
    assert.equal(csvCell('=HYPERLINK("http://x")'), '"\'=HYPERLINK(""http://x"")"')
    assert.equal(csvCell('+cmd'), "'+cmd")
    assert.equal(csvCell('-2+3'), "'-2+3")
    assert.equal(csvCell('@SUM(A1)'), "'@SUM(A1)")
    assert.equal(csvCell('\tx'), "'\tx")
    assert.equal(csvCell('\rx'), '"\'\rx"')
  })

  it('prefixes E.164 phone numbers too (documented choice)', () => {
    assert.equal(csvCell('+15551234567'), "'+15551234567")
  })

  it('does not prefix numbers, and writes objects as JSON', () => {
    assert.equal(csvCell(-2), '-2')
    assert.equal(csvCell({ a: 'x,y' }), '"{""a"":""x,y""}"')
  })

  it('csvRow joins cells and ends with CRLF', () => {
    assert.equal(csvRow(['a', null, 'b,c', 1]), 'a,,"b,c",1\r\n')
    assert.equal(csvRow([null]), '""\r\n')
  })

  it('round-trips any strings through a CSV parser (prefix aside)', () => {
    fc.assert(fc.property(fc.array(fc.array(fc.string(), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 5 }), rows => {
      const text = rows.map(csvRow).join('')
      const back = parse(text, { relax_column_count: true }) as string[][]
      const expected = rows.map(r => r.map(v => /^[=+\-@\t\r]/.test(v) ? `'${v}` : v))
      assert.deepEqual(back, expected)
    }))
  })
})

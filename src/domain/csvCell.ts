/** First characters that make a spreadsheet read a text cell as a formula (OWASP "CSV Injection"). */
const FORMULA_START = new Set(['=', '+', '-', '@', '\t', '\r'])

/** Characters that force an RFC 4180 cell into double quotes. */
const NEEDS_QUOTES = /[",\r\n]/

/**
 * One CSV cell: RFC 4180 quoting plus spreadsheet-formula neutralisation.
 *
 * - `null` and `undefined` are the empty cell; numbers, bigints and booleans are written as they
 *   print (`String(v)`) and are never prefixed: they are not text, and this API emits no negative
 *   numbers; objects and arrays are written as JSON text.
 * - A text cell whose first character is `=`, `+`, `-`, `@`, TAB or CR gets a leading `'`, so that
 *   Excel, LibreOffice and Google Sheets show it as text instead of evaluating it (OWASP guidance).
 *   **E.164 phone numbers are prefixed too** (`+15551234567` → `'+15551234567`): OWASP says to
 *   prefix any leading `+`, an allow-list for "safe" `+` values is one more thing an attacker can
 *   aim at, and a spreadsheet would otherwise turn the number into `15551234567` (dropping the `+`
 *   and, for long numbers, digits). Consumers that parse the file as data strip one leading `'`
 *   from cells that start with `'` followed by one of those characters.
 * - The result is wrapped in double quotes, with inner quotes doubled, when it contains `,`, `"`,
 *   CR or LF.
 */
export function csvCell (value: unknown): string {
  if (value === null || value === undefined) return ''
  let s: string
  if (typeof value === 'string') {
    s = value.length > 0 && FORMULA_START.has(value[0]) ? `'${value}` : value
  } else if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    s = String(value)
  } else {
    const json = JSON.stringify(value) ?? ''
    s = json.length > 0 && FORMULA_START.has(json[0]) ? `'${json}` : json
  }
  return NEEDS_QUOTES.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

/**
 * One CSV record: the cells of `values` joined by `,` and ended by CRLF (RFC 4180). A record of one
 * empty cell is written `""` so that parsers do not take it for a blank line.
 */
export function csvRow (values: readonly unknown[]): string {
  const line = values.map(csvCell).join(',')
  return (line === '' && values.length === 1 ? '""' : line) + '\r\n'
}

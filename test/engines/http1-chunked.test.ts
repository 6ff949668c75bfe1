// The chunked transfer decoder on its own: bytes pushed in any split, the data handed on as it
// comes, the end of the body found, and broken framing refused.
import { describe, expect, test } from 'bun:test'
import { ChunkedDecoder } from '../../src/engines/http1-chunked'

const bytes = (s: string) => new TextEncoder().encode(s)
const text = (parts: Uint8Array[]) => Buffer.concat(parts).toString('utf8')

/** Pushes each part in turn; the data delivered, and what each push returned. */
function decode(parts: Uint8Array[]): { data: Uint8Array[]; results: (number | Error | undefined)[] } {
  const decoder = new ChunkedDecoder()
  const data: Uint8Array[] = []
  const results = parts.map((part) => decoder.push(part, (d) => data.push(d)))
  return { data, results }
}

// Two chunks (one with extensions, one with an upper-case hex size and multi-byte characters),
// then the last chunk with two trailer fields.
const DATA_1 = 'hello'
const DATA_2 = 'é日本 data, 26 bytes!!!' // 2 + 6 + 18 = 26 bytes
const BODY = `5;name=value;flag\r\n${DATA_1}\r\n1A\r\n${DATA_2}\r\n0;last\r\nx-trailer: one\r\nx-other: two\r\n\r\n`
const ENCODED = bytes(BODY)

describe('ChunkedDecoder', () => {
  test('the second test chunk is as long as its size line says', () => {
    expect(Buffer.byteLength(DATA_2)).toBe(0x1a)
  })

  test('a body pushed whole decodes to its data and ends with no bytes left over', () => {
    const { data, results } = decode([ENCODED])
    expect(text(data)).toBe(DATA_1 + DATA_2)
    expect(results).toEqual([0])
  })

  test('a body split at any single byte boundary decodes to the same data', () => {
    for (let i = 1; i < ENCODED.length; i++) {
      const { data, results } = decode([ENCODED.subarray(0, i), ENCODED.subarray(i)])
      expect({ i, text: text(data) }).toEqual({ i, text: DATA_1 + DATA_2 })
      expect({ i, results }).toEqual({ i, results: [undefined, 0] })
      expect(data.every((d) => d.length > 0)).toBe(true)
    }
  })

  test('a body split at any two byte boundaries decodes to the same data', () => {
    for (let i = 1; i < ENCODED.length; i++) {
      for (let j = i + 1; j < ENCODED.length; j++) {
        const { data, results } = decode([ENCODED.subarray(0, i), ENCODED.subarray(i, j), ENCODED.subarray(j)])
        if (text(data) !== DATA_1 + DATA_2 || results[2] !== 0 || results[0] !== undefined || results[1] !== undefined) {
          throw new Error(`split at ${i} and ${j}: got ${JSON.stringify(text(data))} and ${String(results)}`)
        }
      }
    }
  })

  test('a body pushed one byte at a time decodes to the same data, ending only at its last byte', () => {
    const parts = Array.from(ENCODED, (_, i) => ENCODED.subarray(i, i + 1))
    const { data, results } = decode(parts)
    expect(text(data)).toBe(DATA_1 + DATA_2)
    expect(results.slice(0, -1).every((r) => r === undefined)).toBe(true)
    expect(results.at(-1)).toBe(0)
  })

  test('the data is handed on as views of the pushed bytes, not copies', () => {
    const input = bytes('5\r\nhello\r\n0\r\n\r\n')
    const { data } = decode([input])
    expect(data).toHaveLength(1)
    expect(data[0]!.buffer).toBe(input.buffer)
    expect(data[0]!.byteOffset).toBe(3)
    expect(data[0]!.length).toBe(5)
  })

  test('data split across pushes is handed on as it arrives, before the chunk is complete', () => {
    const decoder = new ChunkedDecoder()
    const data: string[] = []
    const deliver = (d: Uint8Array) => data.push(Buffer.from(d).toString())
    expect(decoder.push(bytes('a\r\n0123'), deliver)).toBeUndefined()
    expect(data).toEqual(['0123'])
    expect(decoder.push(bytes('456789\r\n'), deliver)).toBeUndefined()
    expect(data).toEqual(['0123', '456789'])
    expect(decoder.push(bytes('0\r\n\r\n'), deliver)).toBe(0)
  })

  test('it returns how many bytes came after the end of the body', () => {
    const after = 'HTTP/1.1 200 OK\r\n'
    const { data, results } = decode([bytes(`3\r\nabc\r\n0\r\n\r\n${after}`)])
    expect(text(data)).toBe('abc')
    expect(results).toEqual([after.length])
  })

  test('it returns the bytes past the end when the end comes in a later push', () => {
    const { results } = decode([bytes('3\r\nabc\r\n0\r\nx-t: 1\r'), bytes('\n\r\nextra')])
    expect(results).toEqual([undefined, 'extra'.length])
  })

  test('trailer fields after the last chunk are skipped, not delivered as data', () => {
    const { data, results } = decode([bytes('2\r\nok\r\n0\r\nx-a: 1\r\nx-b: 0\r\n\r\n')])
    expect(text(data)).toBe('ok')
    expect(results).toEqual([0])
  })

  test('a body with only the last chunk delivers nothing and ends', () => {
    const { data, results } = decode([bytes('0\r\n\r\n')])
    expect(data).toEqual([])
    expect(results).toEqual([0])
  })

  test('an extension on a size line, with spaces around the size, does not change the size', () => {
    const { data, results } = decode([bytes('4 ;ext="a;b"\r\nwxyz\r\n0\r\n\r\n')])
    expect(text(data)).toBe('wxyz')
    expect(results).toEqual([0])
  })

  test('a size line that is not hex is an error', () => {
    const { data, results } = decode([bytes('zz\r\nhello\r\n0\r\n\r\n')])
    expect(data).toEqual([])
    expect(results[0]).toBeInstanceOf(Error)
    expect((results[0] as Error).message).toContain('chunked body')
  })

  test('an empty size line is an error', () => {
    const { results } = decode([bytes('\r\nhello\r\n')])
    expect(results[0]).toBeInstanceOf(Error)
  })

  test('a negative or prefixed size is an error', () => {
    expect(decode([bytes('-5\r\nhello\r\n')]).results[0]).toBeInstanceOf(Error)
    expect(decode([bytes('0x5\r\nhello\r\n')]).results[0]).toBeInstanceOf(Error)
  })

  test('a size of more than 12 hex digits is an error', () => {
    expect(decode([bytes('1000000000000\r\n')]).results[0]).toBeInstanceOf(Error)
    // 12 digits is still a size
    expect(decode([bytes('000000000003\r\nabc\r\n0\r\n\r\n')]).results[0]).toBe(0)
  })

  test('chunk data longer than its size line said is an error', () => {
    const { data, results } = decode([bytes('3\r\nhello\r\n0\r\n\r\n')])
    expect(text(data)).toBe('hel')
    expect(results[0]).toBeInstanceOf(Error)
    expect((results[0] as Error).message).toContain('longer than its size')
  })

  test('chunk data longer than its size is an error when the extra byte comes in a later push', () => {
    const { results } = decode([bytes('3\r\nhel'), bytes('lo\r\n')])
    expect(results[0]).toBeUndefined()
    expect(results[1]).toBeInstanceOf(Error)
  })

  test('a size line too long to be one is an error, even without its line end', () => {
    const { results } = decode([bytes(`1;${'x'.repeat(5000)}`)])
    expect(results[0]).toBeInstanceOf(Error)
    expect((results[0] as Error).message).toContain('too long')
  })

  test('a size line that grows too long over many pushes is an error', () => {
    const decoder = new ChunkedDecoder()
    const piece = bytes(`;${'x'.repeat(999)}`)
    const results: (number | Error | undefined)[] = [decoder.push(bytes('1'), () => {})]
    for (let i = 0; i < 5; i++) results.push(decoder.push(piece, () => {}))
    expect(results.slice(0, 5)).toEqual([undefined, undefined, undefined, undefined, undefined])
    expect(results[5]).toBeInstanceOf(Error)
  })

  test('a size line just under the limit is accepted', () => {
    const line = `1;${'x'.repeat(4096 - 3)}\r`
    expect(line.length).toBe(4096)
    const { data, results } = decode([bytes(`${line}\na\r\n0\r\n\r\n`)])
    expect(text(data)).toBe('a')
    expect(results).toEqual([0])
  })

  test('a trailer line too long to be one is an error', () => {
    const { results } = decode([bytes(`0\r\nx-big: ${'y'.repeat(5000)}\r\n\r\n`)])
    expect(results[0]).toBeInstanceOf(Error)
  })
})

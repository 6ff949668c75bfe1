import { expect, test } from 'bun:test'
import { SseSplitter, sseData } from '../../src/engines/sse'

const bytes = (s: string) => new TextEncoder().encode(s)

test('events split across reads are emitted once complete', () => {
  const s = new SseSplitter()
  expect(s.push(bytes('data: {"a":'))).toEqual([])
  expect(s.push(bytes('1}\n'))).toEqual([])
  expect(s.push(bytes('\ndata: [DO'))).toEqual(['data: {"a":1}'])
  expect(s.push(bytes('NE]\n\n'))).toEqual(['data: [DONE]'])
})

test('several events in one read come out in order', () => {
  expect(new SseSplitter().push(bytes('data: 1\n\ndata: 2\n\n: ping\n\ndata: 3\n\n'))).toEqual(['data: 1', 'data: 2', ': ping', 'data: 3'])
})

test('CRLF line endings are normalised', () => {
  expect(new SseSplitter().push(bytes('data: 1\r\n\r\ndata: 2\r\n\r\n'))).toEqual(['data: 1', 'data: 2'])
})

test('a multi-byte character split between reads is decoded intact', () => {
  const s = new SseSplitter()
  const all = bytes('data: {"t":"日本"}\n\n')
  expect(s.push(all.slice(0, 12))).toEqual([])
  expect(s.push(all.slice(12))).toEqual(['data: {"t":"日本"}'])
})

test('rest() returns an unterminated final event', () => {
  const s = new SseSplitter()
  s.push(bytes('data: 1\n\ndata: 2'))
  expect(s.rest()).toBe('data: 2')
  expect(s.rest()).toBeUndefined()
})

test('sseData joins data lines and ignores comments and other fields', () => {
  expect(sseData('data: x')).toBe('x')
  expect(sseData('data:x')).toBe('x')
  expect(sseData('event: message\ndata: a\ndata: b\nid: 3')).toBe('a\nb')
  expect(sseData(': keep-alive')).toBeUndefined()
})

test('a CRLF split between reads does not invent a blank line', () => {
  const s = new SseSplitter()
  expect(s.push(bytes('event: message\r'))).toEqual([])
  expect(s.push(bytes('\ndata: {"a":1}\r\n\r\n'))).toEqual(['event: message\ndata: {"a":1}'])
  expect(s.push(bytes('data: a\r'))).toEqual([])
  expect(s.push(bytes('\ndata: b\r\n\r\n'))).toEqual(['data: a\ndata: b'])
})

test('whole tells when a read was exactly complete events, so its bytes can pass as they came', () => {
  const s = new SseSplitter()
  expect(s.push(bytes('data: 1\n\n'))).toEqual(['data: 1'])
  expect(s.whole).toBe('data: 1\n\n')
  expect(s.push(bytes('data: 2\n\ndata: 3\n\n'))).toEqual(['data: 2', 'data: 3'])
  expect(s.whole).toBe('data: 2\n\ndata: 3\n\n')
  // a read that ends mid-event, and the one that completes it, are not whole
  expect(s.push(bytes('data: 4\n\ndata: '))).toEqual(['data: 4'])
  expect(s.whole).toBeUndefined()
  expect(s.push(bytes('5\n\n'))).toEqual(['data: 5'])
  expect(s.whole).toBeUndefined()
  expect(s.push(bytes('data: 6\r\n\r\n'))).toEqual(['data: 6'])
  expect(s.whole).toBeUndefined()
  // a blank line on its own is dropped from the events, so the read is whole but not all of it is an event
  expect(s.push(bytes('\n\n'))).toEqual([])
  expect(s.whole).toBe('\n\n')
})

test('a read that ends in part of a character, or starts with the rest of one, is not whole', () => {
  const s = new SseSplitter()
  const e = bytes('é: x\n\n')
  // 'data: a' + blank line, then the first byte of 'é': the decoder holds that byte back.
  expect(s.push(new Uint8Array([...bytes('data: a\n\n'), e[0]!]))).toEqual(['data: a'])
  expect(s.whole).toBeUndefined()
  expect(s.push(e.slice(1))).toEqual(['é: x'])
  expect(s.whole).toBeUndefined()
  expect(s.push(bytes('data: b\n\n'))).toEqual(['data: b'])
  expect(s.whole).toBe('data: b\n\n')
})

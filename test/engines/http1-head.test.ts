// The head of an engine's HTTP/1.1 answer: status, fields, and how the body is framed.
import { expect, test } from 'bun:test'
import { EngineError } from '../../src/engines/engine-client'
import { Framing, parseResponseHead, type ResponseHead } from '../../src/engines/http1-head'

const head = (text: string, bodiless = false) => parseResponseHead(text, bodiless) as ResponseHead

test('a content-length answer is framed by its length and kept alive', () => {
  const h = head('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 42')
  expect([h.status, h.framing, h.length, h.keepAlive]).toEqual([200, Framing.Length, 42, true])
  expect(h.headers.get('content-type')).toBe('application/json')
  expect(h.headers.get('CONTENT-TYPE')).toBe('application/json')
})

test('chunked wins over a content-length', () => {
  expect(head('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked').framing).toBe(Framing.Chunked)
})

test('no length and not chunked: read until close, and not kept alive', () => {
  const h = head('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream')
  expect([h.framing, h.keepAlive]).toEqual([Framing.UntilClose, false])
})

test('204, 304, a zero length and the answer to HEAD have no body', () => {
  expect(head('HTTP/1.1 204 No Content').framing).toBe(Framing.None)
  expect(head('HTTP/1.1 304 Not Modified\r\ncontent-length: 10').framing).toBe(Framing.None)
  expect(head('HTTP/1.1 200 OK\r\ncontent-length: 0').framing).toBe(Framing.None)
  expect(head('HTTP/1.1 200 OK\r\ncontent-length: 10', true).framing).toBe(Framing.None)
})

test('connection: close, and HTTP/1.0 without keep-alive, end the connection', () => {
  expect(head('HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 1').keepAlive).toBe(false)
  expect(head('HTTP/1.0 200 OK\r\ncontent-length: 1').keepAlive).toBe(false)
  expect(head('HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 1').keepAlive).toBe(true)
})

test('repeated fields are joined with a comma', () => {
  expect(head('HTTP/1.1 200 OK\r\nvary: a\r\nvary: b\r\ncontent-length: 1').headers.get('vary')).toBe('a, b')
})

test('a 1xx answer is interim', () => {
  expect(parseResponseHead('HTTP/1.1 100 Continue', false)).toBe('interim')
  expect(parseResponseHead('HTTP/1.1 103 Early Hints\r\nlink: </a>', false)).toBe('interim')
})

test('what cannot be used is a protocol error that says why', () => {
  const cases: [string, string][] = [
    ['HTTP/2 200', 'did not answer in HTTP/1.1'],
    ['garbage', 'did not answer in HTTP/1.1'],
    ['HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 3', 'content-encoding gzip'],
    ['HTTP/1.1 200 OK\r\ncontent-length: -1', 'invalid content-length'],
    ['HTTP/1.1 200 OK\r\ncontent-length: 1, 2', 'invalid content-length'],
  ]
  for (const [text, message] of cases) {
    const result = parseResponseHead(text, false)
    expect(result).toBeInstanceOf(EngineError)
    expect((result as EngineError).kind).toBe('protocol')
    expect((result as EngineError).message).toContain(message)
  }
})

// The path of a request read off its URL string: no query, no fragment, never a throw.
import { expect, test } from 'bun:test'
import { pathOf } from '../../src/api/request-path'

const at = (url: string) => pathOf({ url } as Request)

test('the path stops at the query or the fragment, whichever comes first', () => {
  expect(at('http://127.0.0.1:8080/v1/chat/completions')).toBe('/v1/chat/completions')
  expect(at('http://h/v1/models?limit=2#x')).toBe('/v1/models')
  expect(at('http://h/sessions#frag?not-a-query')).toBe('/sessions')
  expect(at('http://h/a?b#c')).toBe('/a')
  expect(at('http://h/')).toBe('/')
})

test('a URL without a path, or with a host no URL parser accepts, still has one', () => {
  expect(at('http://h')).toBe('/')
  expect(at('http://a b:99999/v1/models?x')).toBe('/v1/models')
})

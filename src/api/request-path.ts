// The path of a request, read straight from its URL string. `new URL(request.url)` throws on a
// malformed Host header (`a b`, `[::1`, `h:99999`), and these run on every request, error answers
// included, so they must not.
export function pathOf(request: Request): string {
  const url = request.url
  const scheme = url.indexOf('//')
  const start = url.indexOf('/', scheme < 0 ? 0 : scheme + 2)
  if (start < 0) return '/'
  const query = url.indexOf('?', start)
  const hash = url.indexOf('#', start)
  const end = [query, hash].filter((i) => i >= 0).reduce((a, b) => Math.min(a, b), url.length)
  return url.slice(start, end)
}

// The path of a request, read straight from its URL string. `new URL(request.url)` throws on a
// malformed Host header (`a b`, `[::1`, `h:99999`), and these run on every request, error answers
// included, so they must not.
export function pathOf(request: Request): string {
  const url = request.url
  const scheme = url.indexOf('//')
  const start = url.indexOf('/', scheme < 0 ? 0 : scheme + 2)
  if (start < 0) return '/'
  let end = url.indexOf('?', start)
  if (end < 0) end = url.length
  const hash = url.indexOf('#', start)
  if (hash >= 0 && hash < end) end = hash
  return url.slice(start, end)
}

// Reading a gateway's SSE answer the way a client on the wire sees it, for checks below the SDK.

/** The `data:` payload of each event in an SSE text, in order (`[DONE]` included as the string). */
export function sseDataOf(text: string): string[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n\n')
    .filter((event) => event.trim().length > 0)
    .map((event) =>
      event
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => (line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5)))
        .join('\n'),
    )
}

/** The JSON chunks of an SSE text: every data payload except `[DONE]`, parsed. */
export function sseChunksOf(text: string): any[] {
  return sseDataOf(text)
    .filter((data) => data !== '[DONE]')
    .map((data) => JSON.parse(data))
}

/** Everything an async iterable yields, in order. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of items) out.push(item)
  return out
}

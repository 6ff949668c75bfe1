// HTTP/1.1 chunked transfer coding, decoded as bytes arrive (RFC 9112 §7.1): an engine's stream comes
// as chunks whose size lines, data and terminators may be split anywhere between socket reads. The
// data of each chunk is handed on as views of the bytes read, never copied; size lines are parsed
// from the bytes, without building strings (this runs once per streamed event).

const enum State {
  /** Hex digits of a chunk's size. */
  Size,
  /** A chunk extension (`;name=value`) up to the end of the size line. */
  Extension,
  Data,
  /** The CRLF after a chunk's data. */
  DataEnd,
  /** Trailer lines after the last chunk, up to an empty line. */
  Trailer,
}

/** A size line longer than this is not one (a hex size and a short extension). */
const MAX_LINE = 4096
/** 16 hex digits would pass 2^53: no engine sends a chunk of petabytes. */
const MAX_DIGITS = 12
const LF = 10
const CR = 13

export class ChunkedDecoder {
  private state = State.Size
  private size = 0
  private digits = 0
  /** Bytes of the current size or trailer line (CR excluded). */
  private line = 0
  private remaining = 0

  /**
   * Decodes `bytes`, passing chunk data to `deliver`. Returns undefined while the body goes on, the
   * number of bytes past its end once it is over, or an Error when the framing is broken.
   */
  push(bytes: Uint8Array, deliver: (data: Uint8Array) => void): number | Error | undefined {
    let at = 0
    const length = bytes.length
    while (at < length) {
      switch (this.state) {
        case State.Data: {
          const end = Math.min(length, at + this.remaining)
          deliver(bytes.subarray(at, end))
          this.remaining -= end - at
          at = end
          if (this.remaining === 0) this.state = State.DataEnd
          break
        }
        case State.DataEnd: {
          const byte = bytes[at++]
          if (byte === LF) this.state = State.Size
          else if (byte !== CR) return new Error('chunked body: chunk data longer than its size line said')
          break
        }
        case State.Size: {
          const byte = bytes[at++]!
          const digit = hexValue(byte)
          if (digit >= 0) {
            if (this.digits === MAX_DIGITS) return new Error('chunked body: a chunk size too large to be one')
            this.size = this.size * 16 + digit
            this.digits++
            this.line++
          } else if (byte === LF) {
            if (this.digits === 0) return new Error('chunked body: a chunk size line without a size')
            this.endSizeLine()
          } else if (byte === CR) {
            // the LF follows
          } else if ((byte === 0x3b || byte === 0x20 || byte === 0x09) && this.digits > 0) {
            // `;` starts an extension (optionally after whitespace), ignored as RFC 9112 allows
            this.state = State.Extension
            this.line++
          } else return new Error(`chunked body: invalid byte ${JSON.stringify(String.fromCharCode(byte))} in a chunk size line`)
          break
        }
        case State.Extension: {
          const lf = bytes.indexOf(LF, at)
          const end = lf < 0 ? length : lf
          this.line += end - at
          if (this.line > MAX_LINE) return new Error('chunked body: a chunk size line is too long')
          at = end
          if (lf >= 0) {
            at++
            this.endSizeLine()
          }
          break
        }
        case State.Trailer: {
          const byte = bytes[at++]
          if (byte === LF) {
            if (this.line === 0) {
              this.state = State.Size
              return length - at
            }
            this.line = 0
          } else if (byte !== CR && ++this.line > MAX_LINE) return new Error('chunked body: a trailer line is too long')
          break
        }
      }
    }
    return undefined
  }

  private endSizeLine(): void {
    this.remaining = this.size
    this.state = this.size === 0 ? State.Trailer : State.Data
    this.size = this.digits = this.line = 0
  }
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37
  return -1
}

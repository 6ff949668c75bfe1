// The kept-alive connections of the engine client (http1.ts): a pool per engine address, most
// recently used first, and the socket handlers shared by every connection. An answer that ends well
// gives its connection back; one that cannot carry another request closes it.
import type { Socket, SocketHandler } from 'bun'
import type { Exchange } from './http1-exchange'

/** An idle connection older than this is closed rather than reused: engines' keep-alive is often 5 s. */
const IDLE_MS = 4000

/** What the socket layer failed with, coded the way describeFailure words Bun's own errors. */
export class SocketFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** The kept-alive connections to one engine address, the most recently used first. */
export class Pool {
  private readonly idle: Connection[] = []

  constructor(
    readonly hostname: string,
    readonly port: number,
    readonly hostHeader: string,
  ) {}

  /** Sends on an idle connection, or a new one; `fresh` skips the idle ones. */
  send(exchange: Exchange, fresh = false): void {
    let connection: Connection | undefined
    while (!fresh && (connection = this.idle.pop())) {
      if (performance.now() - connection.idleSince < IDLE_MS && connection.socket) return connection.begin(exchange)
      connection.destroy()
    }
    connection = new Connection(this)
    Bun.connect({ hostname: this.hostname, port: this.port, socket: HANDLERS, data: connection }).then(
      (socket) => {
        socket.setNoDelay(true)
        connection.socket = socket
        connection.begin(exchange)
      },
      (e: Error) => exchange.fail(e),
    )
  }

  release(connection: Connection): void {
    connection.idleSince = performance.now()
    connection.socket?.unref()
    this.idle.push(connection)
  }

  forget(connection: Connection): void {
    const at = this.idle.indexOf(connection)
    if (at >= 0) this.idle.splice(at, 1)
  }

  closeIdle(): void {
    for (const connection of this.idle.splice(0)) connection.destroy()
  }
}

export class Connection {
  socket: Socket<Connection> | undefined
  exchange: Exchange | undefined
  /** Answers completed on it: a reused connection may have been closed by the engine meanwhile. */
  served = 0
  idleSince = 0
  closed = false
  /** Reading stopped for a client that pushes back. */
  paused = false

  constructor(readonly pool: Pool) {}

  pause(): void {
    if (this.paused || !this.socket) return
    this.paused = true
    this.socket.pause()
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    this.socket?.resume()
  }

  begin(exchange: Exchange): void {
    this.exchange = exchange
    this.socket!.ref()
    exchange.attach(this)
  }

  /** The answer is complete: back to the pool, or closed when it cannot carry another. */
  finished(reusable: boolean): void {
    this.exchange = undefined
    this.served++
    this.resume()
    if (reusable && !this.closed) this.pool.release(this)
    else this.destroy()
  }

  destroy(): void {
    this.exchange = undefined
    if (this.closed) return
    this.closed = true
    this.pool.forget(this)
    this.socket?.terminate()
  }

  onClose(error?: Error): void {
    const exchange = this.exchange
    this.closed = true
    this.exchange = undefined
    this.pool.forget(this)
    exchange?.closed(error)
  }
}

const HANDLERS: SocketHandler<Connection> = {
  data(socket, bytes) {
    const connection = socket.data
    if (connection.exchange) connection.exchange.receive(bytes)
    // Bytes nobody asked for: the connection cannot be trusted with another request.
    else connection.destroy()
  },
  drain(socket) {
    socket.data.exchange?.flush()
  },
  end(socket) {
    // The engine closed its side: the answer (if read until close) is over, and so is the connection.
    socket.data.onClose()
    socket.end()
  },
  close(socket, error) {
    socket.data.onClose(error)
  },
  error(socket, error) {
    socket.data.onClose(error)
  },
  connectError() {
    // the Bun.connect promise rejects with the same error: Pool.send handles it there
  },
}

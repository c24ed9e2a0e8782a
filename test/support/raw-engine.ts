import WebSocket from 'ws';
import { Waiter } from './waiter.js';

/**
 * A Socket.IO connection spoken by hand over a raw WebSocket (Engine.IO v4
 * framing: `0` open, `2`/`3` ping/pong, `4` message, then the Socket.IO packet:
 * `0` connect, `2` event, `3` ack...), so tests can send what no real client
 * would. Pings are answered, everything received is kept.
 */
export class RawEngine {
  readonly frames: string[] = [];
  readonly closed: Promise<{ code: number }>;
  private readonly waiter = new Waiter();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const frame = isBinary ? `<binary ${data.length}>` : data.toString();
      if (frame === '2') ws.send('3');
      this.frames.push(frame);
      this.waiter.notify();
    });
    this.closed = new Promise((resolve) =>
      ws.once('close', (code) => {
        this.waiter.notify();
        resolve({ code });
      }),
    );
  }

  /** Opens the WebSocket and waits for Engine.IO's open packet. */
  static async open(httpUrl: string, headers: Record<string, string> = {}): Promise<RawEngine> {
    const url = `${httpUrl.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
    const ws = new WebSocket(url, { headers });
    const engine = new RawEngine(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`HTTP ${res.statusCode} on upgrade`)),
      );
      ws.once('open', () => resolve());
    });
    await engine.until((frames) => frames.some((f) => f.startsWith('0{')));
    return engine;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Socket.IO connect to namespace `/` with `auth`; resolves with the server's answer frame. */
  async connect(auth: unknown): Promise<string> {
    this.send(`40${JSON.stringify(auth)}`);
    await this.until((frames) => frames.some((f) => f.startsWith('40') || f.startsWith('44')));
    return this.frames.find((f) => f.startsWith('40') || f.startsWith('44'))!;
  }

  send(frame: string | Buffer): void {
    if (this.isOpen) this.ws.send(frame);
  }

  close(): void {
    this.ws.terminate();
  }

  /** Sends `frame` and, once it is handed to the network, vanishes (no close handshake). */
  sendAndVanish(frame: string): Promise<void> {
    return new Promise((resolve) =>
      this.ws.send(frame, () => {
        this.ws.terminate();
        resolve();
      }),
    );
  }

  /** Resolves once `predicate` holds over the frames received; rejects when the socket closes or after `timeoutMs`. */
  until(predicate: (frames: string[]) => boolean, timeoutMs = 5000): Promise<void> {
    return this.waiter.until(
      () => {
        if (predicate(this.frames)) return true;
        if (this.ws.readyState === WebSocket.CLOSED) throw new Error('connection closed');
        return false;
      },
      timeoutMs,
      () => `frames; last: ${this.frames.slice(-5).join(' | ')}`,
    );
  }
}

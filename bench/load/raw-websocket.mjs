// A minimal WebSocket client (RFC 6455) for the load processes: one TCP
// socket, the upgrade request, a frame parser, masked text sends, and
// permessage-deflate (RFC 7692) inflated synchronously (once per distinct
// message per process, see inflateShared). The `ws` client inflates through
// the libuv thread pool with a concurrency limit, which under thousands of
// sockets becomes a queue in the load process itself and shows up as server
// latency; a browser inflates inline, as this does.
// Asks for server_no_context_takeover, so each compressed message inflates
// on its own.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { constants, inflateRawSync } from 'node:zlib';

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Recently inflated messages by their compressed bytes (insertion order = age). */
const inflated = new Map();
const INFLATED_KEPT = 256;

/**
 * Inflates a compressed message (no context takeover, so the same bytes always
 * inflate to the same text). The thousands of viewers in one load process
 * receive the very same compressed frame for each batch; in real life each
 * is a browser inflating on its own CPU, here they would share two cores, and
 * inflating it once per viewer made the load process, not the server, what
 * limited the figures. Each viewer still parses its own copy of the text.
 */
function inflateShared(data) {
  const key = data.toString('latin1');
  let text = inflated.get(key);
  if (text === undefined) {
    text = inflateRawSync(Buffer.concat([data, TRAILER]), {
      finishFlush: constants.Z_SYNC_FLUSH,
    }).toString();
    inflated.set(key, text);
    if (inflated.size > INFLATED_KEPT) inflated.delete(inflated.keys().next().value);
  }
  return text;
}

export class RawWebSocket {
  /**
   * @param url ws://host:port/path?query
   * @param options.deflate offer permessage-deflate (default true)
   * @param handlers.onOpen, onText(text), onClose()
   */
  constructor(url, { deflate = true } = {}, handlers) {
    const { hostname, port, pathname, search } = new URL(url);
    this.handlers = handlers;
    this.deflate = false;
    this.open = false;
    this.pending = null;
    this.message = null;
    this.socket = connect(Number(port), hostname);
    this.socket.setNoDelay(true);
    const key = randomBytes(16).toString('base64');
    this.socket.write(
      `GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
        (deflate
          ? 'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n'
          : '') +
        '\r\n',
    );
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('close', () => this.handlers.onClose?.());
    this.socket.on('error', (err) => this.handlers.onError?.(err));
  }

  get bytesRead() {
    return this.socket.bytesRead;
  }

  send(text) {
    this.writeFrame(0x1, Buffer.from(text));
  }

  /** A final, masked client frame (RFC 6455 5.3); payloads here stay under 64 KiB. */
  writeFrame(opcode, data) {
    const mask = randomBytes(4);
    const header =
      data.length < 126
        ? Buffer.from([0x80 | opcode, 0x80 | data.length])
        : Buffer.from([0x80 | opcode, 0x80 | 126, data.length >> 8, data.length & 0xff]);
    const masked = Buffer.from(data);
    for (let i = 0; i < masked.length; i++) masked[i] ^= mask[i & 3];
    this.socket.write(Buffer.concat([header, mask, masked]));
  }

  close() {
    this.socket.destroy();
  }

  onData(chunk) {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    if (!this.open) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        this.pending = buf;
        return;
      }
      const head = buf.subarray(0, end).toString();
      if (!head.startsWith('HTTP/1.1 101')) {
        this.handlers.onError?.(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
        this.socket.destroy();
        return;
      }
      this.deflate = /sec-websocket-extensions:\s*permessage-deflate/i.test(head);
      this.open = true;
      this.handlers.onOpen?.();
      buf = buf.subarray(end + 4);
    }
    let at = 0;
    while (buf.length - at >= 2) {
      const first = buf[at];
      const second = buf[at + 1];
      let length = second & 0x7f;
      let offset = at + 2;
      if (length === 126) {
        if (buf.length - at < 4) break;
        length = buf.readUInt16BE(at + 2);
        offset = at + 4;
      } else if (length === 127) {
        if (buf.length - at < 10) break;
        length = Number(buf.readBigUInt64BE(at + 2));
        offset = at + 10;
      }
      if (buf.length - offset < length) break;
      this.onFrame(first, buf.subarray(offset, offset + length));
      at = offset + length;
    }
    if (at < buf.length) this.pending = Buffer.from(buf.subarray(at));
  }

  onFrame(first, payload) {
    const opcode = first & 0x0f;
    if (opcode === 0x8) {
      this.socket.destroy();
      return;
    }
    if (opcode === 0x9) {
      this.writeFrame(0xa, payload);
      return;
    }
    // Text or binary starts a message, continuation (0x0) extends it; pongs (0xa) are ignored.
    if (opcode === 0x1 || opcode === 0x2) {
      this.message = { text: opcode === 0x1, compressed: (first & 0x40) !== 0, parts: [] };
    } else if (opcode !== 0x0 || !this.message) {
      return;
    }
    this.message.parts.push(Buffer.from(payload));
    if ((first & 0x80) === 0) return;
    const { text, compressed, parts } = this.message;
    this.message = null;
    const data = Buffer.concat(parts);
    if (!text) return;
    this.handlers.onText(compressed ? inflateShared(data) : data.toString());
  }
}

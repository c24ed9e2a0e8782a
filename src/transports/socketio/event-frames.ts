import { constants, deflateRawSync } from 'node:zlib';
import { WebSocketServer, type ServerOptions as WsServerOptions } from 'ws';
import { webSocketOf, writePreEncoded, type PreEncodedWrite } from '../../internals/engine-io.js';
import { negotiatedExtension } from '../../internals/ws.js';
import type { BatchEncoder, OutgoingBatch } from '../../delivery/outgoing-batch.js';
import type { GatewaySocket } from './socket-events.js';

/**
 * Window of the deflate stream behind a compressed `events` frame, bits. A
 * client that limits the server's window below this (server_max_window_bits)
 * gets plain frames.
 */
const WINDOW_BITS = 12;
/**
 * How each batch is deflated. Every batch gets a fresh deflate state, so what
 * it costs to set one up counts as much as compressing: memLevel 4 (the
 * default 8 clears a 64 KiB hash table per call), a 2 KiB output chunk (the
 * default is a fresh 16 KiB buffer per call; compressed batches are
 * smaller, and a larger one takes more chunks) and the fastest level, which
 * compresses these JSON batches about 4% worse in 40% less time. Bytes on
 * the wire stay at about a tenth of uncompressed Socket.IO's.
 */
const DEFLATE_OPTIONS = {
  finishFlush: constants.Z_SYNC_FLUSH,
  windowBits: WINDOW_BITS,
  memLevel: 4,
  chunkSize: 2048,
  level: constants.Z_BEST_SPEED,
};
/** Frames smaller than this go out plain: deflate saves little on them. */
const MIN_COMPRESS_BYTES = 256;
const EXTENSION = 'permessage-deflate';

/**
 * permessage-deflate as the gateway negotiates it: the server compresses each
 * message on its own (no context takeover), which is what lets one compressed
 * `events` frame be written to every viewer of a batch; and ws itself never
 * compresses (threshold: Infinity), so no viewer costs a zlib context per
 * socket. Only `events` frames are compressed, once per batch, here.
 */
const PER_MESSAGE_DEFLATE: WsServerOptions['perMessageDeflate'] = {
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  // No clientMaxWindowBits: ws refuses (400) every offer without client_max_window_bits then.
  threshold: Number.POSITIVE_INFINITY,
};

/**
 * The WebSocket server engine.io builds on (`wsEngine`), negotiating
 * compression. engine.io itself keeps believing compression is off, which is
 * what makes it write pre-encoded frames as given.
 */
export class DeflateWebSocketServer extends WebSocketServer {
  constructor(options: WsServerOptions, callback?: () => void) {
    super({ ...options, perMessageDeflate: PER_MESSAGE_DEFLATE }, callback);
  }
}

/**
 * What ws's sender writes for a pre-encoded frame: a list of buffers. Ours is
 * always one buffer, header and payload together, so each viewer costs one
 * plain socket write instead of a corked write pair flushed as a writev (the
 * single largest cost of fan-out in the profiles).
 */
type Frame = [Buffer];

/**
 * One batch of events as a Socket.IO `events` packet, serialized once and
 * framed once for every viewer: a plain WebSocket frame, and (for viewers
 * that negotiated permessage-deflate) the same frame compressed once.
 */
export class EventsFrame {
  /** The Socket.IO packet (`2["events",[...]]`), for transports that are not WebSocket. */
  readonly packet: string;
  private plainWrite: PreEncodedWrite | null = null;
  private deflatedWrite: PreEncodedWrite | null | undefined;
  private readonly payload: Buffer;

  constructor(json: string) {
    this.packet = `2["events",${json}]`;
    // "4": an Engine.IO message packet.
    this.payload = Buffer.from(`4${this.packet}`);
  }

  get plain(): Frame {
    return this.plainSend.wsPreEncodedFrame;
  }

  /** The compressed frame, or null when compressing does not pay. */
  get deflated(): Frame | null {
    return this.deflatedSend?.wsPreEncodedFrame ?? null;
  }

  /** The plain frame as send options: one object for every socket of the batch. */
  get plainSend(): PreEncodedWrite {
    this.plainWrite ??= { wsPreEncodedFrame: [frame(this.payload, false)] };
    return this.plainWrite;
  }

  /** The compressed frame as send options, or null when compressing does not pay. */
  get deflatedSend(): PreEncodedWrite | null {
    if (this.deflatedWrite === undefined) {
      this.deflatedWrite = null;
      if (this.payload.length >= MIN_COMPRESS_BYTES) {
        const out = deflateRawSync(this.payload, DEFLATE_OPTIONS);
        // RFC 7692 7.2.1: the sync flush's trailing 00 00 ff ff is left off.
        const body = out.subarray(0, out.length - 4);
        if (body.length < this.payload.length) {
          this.deflatedWrite = { wsPreEncodedFrame: [frame(body, true)] };
        }
      }
    }
    return this.deflatedWrite;
  }
}

/**
 * A final, unmasked text frame (RFC 6455 5.2) around `data`, header and
 * payload in one buffer; RSV1 marks it compressed (RFC 7692). Written as is
 * by ws's sender, like the frames Socket.IO pre-encodes for its broadcasts.
 */
export function frame(data: Buffer, compressed: boolean): Buffer {
  const first = 0x80 | (compressed ? 0x40 : 0) | 0x01;
  const headerLength = data.length < 126 ? 2 : data.length < 65_536 ? 4 : 10;
  const out = Buffer.allocUnsafe(headerLength + data.length);
  out[0] = first;
  if (headerLength === 2) {
    out[1] = data.length;
  } else if (headerLength === 4) {
    out[1] = 126;
    out.writeUInt16BE(data.length, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(data.length), 2);
  }
  data.copy(out, headerLength);
  return out;
}

/** Whether this engine.io connection's WebSocket takes our compressed frames. */
function takesDeflate(conn: object): boolean {
  const ws = webSocketOf(conn);
  if (!ws) return false;
  const extension = negotiatedExtension(ws, EXTENSION);
  if (!extension) return false;
  const limit = extension.params?.server_max_window_bits;
  return typeof limit !== 'number' || limit >= WINDOW_BITS;
}

/** A batch's Socket.IO frames, made once per batch by the first socket that writes it. */
export const SOCKET_FRAMES: BatchEncoder<EventsFrame> = {
  encode: (batch) => new EventsFrame(batch.jsonText),
};

/**
 * Writes one live batch to a socket: the batch's frame, serialized (and
 * compressed) once for every socket, and per socket only the write. Goes
 * through the connection's engine.io write queue, so it stays in order with
 * everything else the socket is sent.
 */
export function writeBatch(socket: GatewaySocket, batch: OutgoingBatch): void {
  const frames = batch.encoded(SOCKET_FRAMES);
  const deflated = takesDeflate(socket.conn) ? frames.deflatedSend : null;
  writePreEncoded(socket.conn, frames.packet, deflated ?? frames.plainSend);
}

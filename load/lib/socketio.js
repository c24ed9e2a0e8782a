// Socket.IO v5 over Engine.IO v4, spoken by hand on a raw WebSocket: the
// framing only, with no I/O and no k6 imports, so k6 scripts and jest (which
// proves it against a real replica) share it.
//
//   Engine.IO packet:  <type><data>       0 open, 1 close, 2 ping, 3 pong, 4 message
//   Socket.IO packet:  4<type>[<ackId>]<json>   0 connect, 1 disconnect, 2 event, 3 ack, 4 connect_error

/** The WebSocket URL of a gateway's Socket.IO endpoint. */
export function socketUrl(baseUrl) {
  return `${baseUrl.replace(/^http/, 'ws').replace(/\/$/, '')}/socket.io/?EIO=4&transport=websocket`;
}

/** Parses one text frame into what it means. */
export function parseFrame(text) {
  const engine = text[0];
  if (engine === '0') return { kind: 'open', data: JSON.parse(text.slice(1)) };
  if (engine === '1') return { kind: 'close' };
  if (engine === '2') return { kind: 'ping' };
  if (engine === '3') return { kind: 'pong' };
  if (engine !== '4') return { kind: 'unknown', raw: text };
  const type = text[1];
  let rest = text.slice(2);
  if (type === '0') return { kind: 'connect', data: rest ? JSON.parse(rest) : {} };
  if (type === '1') return { kind: 'disconnect' };
  if (type === '4') return { kind: 'connect_error', data: JSON.parse(rest) };
  if (type === '2' || type === '3') {
    const digits = /^\d*/.exec(rest)[0];
    rest = rest.slice(digits.length);
    const args = JSON.parse(rest);
    if (type === '3') return { kind: 'ack', id: Number(digits), args };
    const [name, ...payload] = args;
    return { kind: 'event', name, args: payload, ackId: digits === '' ? null : Number(digits) };
  }
  return { kind: 'unknown', raw: text };
}

/** `40{auth}`: connect to namespace `/` with the handshake auth payload. */
export function connectFrame(auth) {
  return `40${JSON.stringify(auth)}`;
}

/** `42[ackId][name, ...args]`: an event, with an ack id when an answer is wanted. */
export function eventFrame(name, args, ackId) {
  return `42${ackId === undefined || ackId === null ? '' : ackId}${JSON.stringify([name, ...args])}`;
}

/**
 * One Socket.IO session over a WebSocket the caller owns: feed it every text
 * frame with `receive`, give it `send`. It answers pings, connects with
 * `auth` once Engine.IO opens, matches acks to their callbacks, and hands
 * events to `on(name, handler)` listeners.
 */
export class SocketIoSession {
  constructor(send, auth) {
    this.send = send;
    this.auth = auth;
    this.nextAckId = 0;
    this.acks = new Map();
    this.handlers = new Map();
    this.connected = false;
    this.sid = null;
  }

  on(name, handler) {
    this.handlers.set(name, handler);
  }

  emit(name, payload, onAck) {
    if (onAck) {
      const id = this.nextAckId++;
      this.acks.set(id, onAck);
      this.send(eventFrame(name, [payload], id));
    } else {
      this.send(eventFrame(name, [payload]));
    }
  }

  receive(text) {
    const frame = parseFrame(text);
    switch (frame.kind) {
      case 'open':
        this.send(connectFrame(this.auth));
        break;
      case 'ping':
        this.send('3');
        break;
      case 'connect':
        this.connected = true;
        this.sid = frame.data.sid !== undefined ? frame.data.sid : null;
        this.fire('connect', frame.data);
        break;
      case 'connect_error':
        this.fire('connect_error', frame.data);
        break;
      case 'disconnect':
      case 'close':
        this.connected = false;
        this.fire('disconnect', frame.kind);
        break;
      case 'ack': {
        const callback = this.acks.get(frame.id);
        this.acks.delete(frame.id);
        if (callback) callback(...frame.args);
        break;
      }
      case 'event':
        this.fire(frame.name, ...frame.args);
        break;
      default:
        break;
    }
    return frame;
  }

  fire(name, ...args) {
    const handler = this.handlers.get(name);
    if (handler) handler(...args);
  }
}

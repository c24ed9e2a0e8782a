// A load process of lean viewers: raw WebSockets that speak the Engine.IO /
// Socket.IO framing through load/lib/socketio.js (the module the k6 scripts
// use) and parse only what they measure. Ours and the baseline get this very
// same generator. For each `events` frame it scans the text for each event's
// `occurredAt` and `taskId` (the publisher's per-project sequence number)
// instead of parsing the JSON: latency goes into a 1 ms histogram, each
// sequence number into a per-viewer bitmap (loss and duplicates).
//
// Driven over IPC by bench/run.mjs: `connect` (n viewers, assigned to
// projects and replica URLs round-robin), `mark` (start a measuring window:
// counters, bytes and histogram reset), `stats` (the window so far), `close`.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { SocketIoSession, socketUrl } from '../../load/lib/socketio.js';
import { RawWebSocket } from './raw-websocket.mjs';

const EVENTS_PREFIX = '42["events",';
const HISTOGRAM_MS = 60_000;

/** @type {Viewer[]} */
const viewers = [];
let histogram = new Uint32Array(HISTOGRAM_MS + 1);
let received = 0;
let duplicates = 0;
let frames = 0;
let bytesAtMark = 0;
let disconnects = 0;
let lastStamp = '';
let lastParsed = 0;
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

class Viewer {
  constructor(url, projectId, token) {
    this.projectId = projectId;
    /** One byte per sequence number: how often it arrived. */
    this.seen = new Uint8Array(1024);
    // Offers permessage-deflate, as browsers do; a server may or may not take it.
    this.ws = new RawWebSocket(
      socketUrl(url),
      { deflate: process.env.BENCH_DEFLATE !== '0' },
      {
        onText: (text) => {
          if (text.startsWith(EVENTS_PREFIX)) this.events(text);
          else this.session.receive(text);
        },
        onClose: () => {
          if (this.subscribed) disconnects++;
          this.subscribed = false;
          this.onClosed?.();
        },
        onError: (err) => this.onFailed?.(err),
      },
    );
    this.session = new SocketIoSession((frame) => this.ws.send(frame), { token });
    this.subscribed = false;
  }

  /** Resolves once connected and subscribed (no `since`: a fresh dashboard). */
  ready() {
    return new Promise((resolve, reject) => {
      this.onFailed = reject;
      this.onClosed = () => reject(new Error('closed before subscribing'));
      this.session.on('connect_error', (e) => reject(new Error(JSON.stringify(e))));
      this.session.on('connect', () =>
        this.session.emit('subscribe', { projectId: this.projectId }, (ack) => {
          if (!ack || ack.ok !== true) return reject(new Error(JSON.stringify(ack)));
          this.subscribed = true;
          resolve();
        }),
      );
    });
  }

  events(text) {
    frames++;
    const now = Date.now();
    let at = 0;
    for (;;) {
      at = text.indexOf('"occurredAt":"', at);
      if (at < 0) break;
      // A batch's events mostly share their millisecond: parse each stamp once.
      const stamp = text.slice(at + 14, at + 38);
      if (stamp !== lastStamp) {
        lastStamp = stamp;
        lastParsed = Date.parse(stamp);
      }
      const occurredAt = lastParsed;
      const seqAt = text.indexOf('"taskId":"', at) + 10;
      const seq = parseInt(text.slice(seqAt, text.indexOf('"', seqAt)), 10);
      at = seqAt;
      const latency = Math.min(HISTOGRAM_MS, Math.max(0, now - occurredAt));
      histogram[latency]++;
      received++;
      if (seq >= this.seen.length) {
        const grown = new Uint8Array(Math.max(seq + 1, this.seen.length * 2));
        grown.set(this.seen);
        this.seen = grown;
      }
      if (this.seen[seq]++ > 0) duplicates++;
    }
  }
}

const totalBytesRead = () => viewers.reduce((sum, v) => sum + v.ws.bytesRead, 0);

async function connect({ urls, count, offset, projects, token, parallel = 200 }) {
  for (let start = 0; start < count; start += parallel) {
    const batch = [];
    for (let i = start; i < Math.min(count, start + parallel); i++) {
      const n = offset + i;
      const viewer = new Viewer(urls[n % urls.length], projects[n % projects.length], token);
      viewers.push(viewer);
      batch.push(viewer.ready());
    }
    await Promise.all(batch);
  }
}

/** Unique deliveries per project's sequence range [from, to): what arrived of what was sent. */
function delivered(ranges) {
  let unique = 0;
  let expected = 0;
  for (const v of viewers) {
    const range = ranges[v.projectId];
    if (!range) continue;
    expected += range[1] - range[0];
    for (let s = range[0]; s < range[1] && s < v.seen.length; s++) if (v.seen[s] > 0) unique++;
  }
  return { unique, expected };
}

/** [[ms, count], ...] for the non-empty buckets: the histogram, small enough for IPC. */
function sparse(h) {
  const out = [];
  for (let ms = 0; ms < h.length; ms++) if (h[ms] > 0) out.push([ms, h[ms]]);
  return out;
}

process.on('message', (msg) => {
  const reply = (body) => process.send({ id: msg.id, ...body });
  switch (msg.type) {
    case 'connect':
      connect(msg).then(
        () => reply({ ok: true, connected: viewers.length }),
        (err) => reply({ ok: false, error: String(err.message ?? err) }),
      );
      break;
    case 'mark':
      histogram = new Uint32Array(HISTOGRAM_MS + 1);
      received = duplicates = frames = disconnects = 0;
      bytesAtMark = totalBytesRead();
      loop.reset();
      reply({ ok: true });
      break;
    case 'progress':
      reply({ received });
      break;
    case 'stats':
      reply({
        received,
        duplicates,
        frames,
        disconnects,
        bytes: totalBytesRead() - bytesAtMark,
        histogram: sparse(histogram),
        ...(msg.ranges ? delivered(msg.ranges) : {}),
        loopP99Ms: loop.percentile(99) / 1e6,
        loopMaxMs: loop.max / 1e6,
      });
      break;
    case 'close':
      for (const v of viewers) v.ws.close();
      reply({ ok: true });
      setTimeout(() => process.exit(0), 50);
      break;
    default:
      break;
  }
});
process.send({ type: 'started' });

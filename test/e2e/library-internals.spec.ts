import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as connectClient, type Socket as ClientSocket } from 'socket.io-client';
import { defaultMetadataStorage } from 'class-transformer/cjs/storage.js';
import { DeflateWebSocketServer, writeBatch } from '../../src/transports/socketio/event-frames.js';
import type { GatewaySocket } from '../../src/transports/socketio/socket-events.js';
import type { EventEnvelope } from '../../src/core/envelope.js';
import { OutgoingBatch } from '../../src/delivery/outgoing-batch.js';
import { transformerMetadata } from '../../src/internals/class-transformer.js';
import {
  engineSessions,
  releaseUpgradeRequest,
  webSocketOf,
  writeBufferBytes,
} from '../../src/internals/engine-io.js';
import { negotiatedExtension, wsBufferedAmount } from '../../src/internals/ws.js';

/**
 * The private parts of libraries the gateway relies on, each checked by name
 * against the installed version, so an upgrade that moves one fails here, and
 * says which, instead of as a subtle loss somewhere else (a slow viewer never
 * detected, frames no longer pre-encoded, a gate letting sessions through).
 */
describe('library internals the gateway relies on', () => {
  let http: HttpServer;
  let server: Server;
  let client: ClientSocket;
  let socket: GatewaySocket;
  let conn: Record<string, unknown>;

  beforeAll(async () => {
    http = createServer();
    server = new Server(http, { wsEngine: DeflateWebSocketServer, transports: ['websocket'] });
    const connected = new Promise<GatewaySocket>((resolve) =>
      server.on('connection', (s) => resolve(s as unknown as GatewaySocket)),
    );
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    client = connectClient(`http://127.0.0.1:${port}`, {
      transports: ['websocket'],
      reconnection: false,
      // Node's socket.io-client offers permessage-deflate like a browser when asked.
      perMessageDeflate: { threshold: 0 },
    } as Parameters<typeof connectClient>[1]);
    socket = await connected;
    conn = socket.conn as unknown as Record<string, unknown>;
  });

  afterAll(async () => {
    client?.close();
    await new Promise<void>((resolve) => {
      void server.close(() => resolve());
    });
  });

  it("engine.io: Server#clients holds each open session by its sid (the connection gate's 'existing session')", () => {
    const clients = (server.engine as unknown as { clients: Record<string, unknown> }).clients;
    expect(clients[conn.id as string]).toBe(socket.conn);
  });

  it('engine.io: Socket#writeBuffer is the array of packets waiting for the transport (slow-viewer bytes)', () => {
    expect(Array.isArray(conn.writeBuffer)).toBe(true);
  });

  it('engine.io: Socket#request holds the upgrade request and may be let go', () => {
    expect(conn).toHaveProperty('request');
  });

  it('ws: the transport exposes its WebSocket with bufferedAmount and terminate (slow-viewer bytes, abort)', () => {
    const transport = conn.transport as { name: string; socket?: Record<string, unknown> };
    expect(transport.name).toBe('websocket');
    expect(typeof transport.socket?.bufferedAmount).toBe('number');
    expect(typeof transport.socket?.terminate).toBe('function');
  });

  it("ws: WebSocket#_extensions['permessage-deflate'] says a viewer negotiated compression (one deflate per batch)", () => {
    const ws = (conn.transport as { socket: { _extensions?: Record<string, { params?: object }> } })
      .socket;
    expect(ws._extensions?.['permessage-deflate']?.params).toBeDefined();
  });

  it('engine.io: Socket#write with wsPreEncodedFrame sends the pre-encoded frame as is (events written once per room)', async () => {
    const events: EventEnvelope[] = [
      {
        id: '1-0',
        type: 'task.status.changed',
        projectId: 'p',
        occurredAt: new Date(0).toISOString(),
        source: 'test',
        data: { taskId: 't1', from: null, to: 'active' },
      },
    ];
    const received = new Promise<EventEnvelope[]>((resolve) => client.once('events', resolve));
    writeBatch(socket, new OutgoingBatch(events));
    expect(await received).toEqual(events);
  });

  // The same parts, through the one file per library that reaches them (src/internals/).
  it('src/internals/engine-io.ts reads the sessions, the write buffer and the WebSocket', () => {
    expect(engineSessions(server)[conn.id as string]).toBe(socket.conn);
    // A packet waiting in the buffer is counted (put there by hand, and taken back).
    const buffer = conn.writeBuffer as { data: string }[];
    buffer.push({ data: 'abcd' });
    try {
      expect(writeBufferBytes(socket.conn)).toBe(4);
    } finally {
      buffer.pop();
    }
    expect(webSocketOf(socket.conn)).toBe((conn.transport as { socket: unknown }).socket);
  });

  it('src/internals/ws.ts reads the negotiated deflate and the unsent bytes', () => {
    const ws = webSocketOf(socket.conn);
    expect(negotiatedExtension(ws, 'permessage-deflate')?.params).toBeDefined();
    expect(wsBufferedAmount(ws)).toBe(0);
  });

  it('src/internals/class-transformer.ts reaches the decorator metadata', () => {
    expect(typeof transformerMetadata.getStrategy).toBe('function');
    expect(typeof transformerMetadata.findTransformMetadatas).toBe('function');
  });

  it('src/internals/engine-io.ts lets go of the upgrade request', () => {
    releaseUpgradeRequest(socket.conn);
    expect(conn.request).toBeNull();
  });

  it("class-transformer: cjs/storage.js's defaultMetadataStorage answers getStrategy and getExposedMetadatas (flat DTOs)", () => {
    const storage = defaultMetadataStorage as Record<string, unknown>;
    expect(typeof storage.getStrategy).toBe('function');
    expect(typeof storage.getExposedMetadatas).toBe('function');
  });
});

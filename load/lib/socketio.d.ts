/** Types for socketio.js (plain JavaScript so k6 can run it). */
export type Frame =
  | { kind: 'open'; data: { sid: string; pingInterval: number; pingTimeout: number } }
  | { kind: 'close' | 'ping' | 'pong' | 'disconnect' }
  | { kind: 'connect'; data: { sid?: string } }
  | { kind: 'connect_error'; data: { code?: string; message: string } }
  | { kind: 'event'; name: string; args: unknown[]; ackId: number | null }
  | { kind: 'ack'; id: number; args: unknown[] }
  | { kind: 'unknown'; raw: string };

export function socketUrl(baseUrl: string): string;
export function parseFrame(text: string): Frame;
export function connectFrame(auth: unknown): string;
export function eventFrame(name: string, args: unknown[], ackId?: number | null): string;

export class SocketIoSession {
  constructor(send: (frame: string) => void, auth: unknown);
  connected: boolean;
  sid: string | null;
  on(name: string, handler: (...args: any[]) => void): void;
  emit(name: string, payload: unknown, onAck?: (reply: any) => void): void;
  receive(text: string): Frame;
}

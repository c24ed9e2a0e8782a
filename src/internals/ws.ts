/**
 * ws's private parts the gateway relies on, all of them (checked by name in
 * test/e2e/library-internals.spec.ts; ws is pinned in package.json).
 */

interface WsInternals {
  bufferedAmount?: number;
  terminate?: () => void;
  _extensions?: Record<string, { params?: Record<string, unknown> } | undefined>;
}

/** The parameters of the extension `name` this WebSocket negotiated (`WebSocket#_extensions`). */
export function negotiatedExtension(
  socket: unknown,
  name: string,
): { params?: Record<string, unknown> } | undefined {
  return (socket as WsInternals | undefined)?._extensions?.[name];
}

/** Bytes the WebSocket has queued and not yet written to the network (public API). */
export function wsBufferedAmount(socket: unknown): number {
  return (socket as WsInternals | undefined)?.bufferedAmount ?? 0;
}

/** Destroys the WebSocket's TCP connection at once (public API). */
export function terminate(socket: unknown): void {
  (socket as WsInternals | undefined)?.terminate?.();
}

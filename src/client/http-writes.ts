import type { EventPayloads, EventType } from '../core/registry.js';
import type { TokenSource } from './token-source.js';
import { errorFromResponse, GatewayClientError, type PublishResult } from './types.js';

/**
 * One event as `publish` takes it: its type and that type's payload (a wrong
 * payload for a known type is a compile error); the project is the call's.
 */
export type PublishEvent = {
  [T in EventType]: { type: T; data: EventPayloads[T]; source?: string };
}[EventType];

/** One write waiting in an outgoing queue. */
export interface OutgoingWrite {
  projectId: string;
  body: PublishEvent | PublishEvent[];
  key: string;
  ifMatch?: string;
}

/** A random idempotency key: 128 bits, hex. */
export function randomKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * One attempt at a write through the HTTP publish API, under its idempotency
 * key: the ids, or a `GatewayClientError` saying whether it may be retried.
 * A 401 with a token provider fetches a new token and tries once more.
 */
export async function postWrite(
  write: OutgoingWrite,
  via: { baseUrl: string; tokens: TokenSource; refreshable: boolean; timeoutMs: number },
  tokenRefreshed = false,
): Promise<PublishResult> {
  const token = await via.tokens.get();
  const url = `${via.baseUrl}/api/projects/${encodeURIComponent(write.projectId)}/events`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'idempotency-key': write.key,
        ...(write.ifMatch !== undefined ? { 'if-match': `"${write.ifMatch}"` } : {}),
      },
      body: JSON.stringify(write.body),
      signal: AbortSignal.timeout(via.timeoutMs),
    });
  } catch (err) {
    // No answer: not sent, or sent and its answer lost. The key makes a retry safe either way.
    throw new GatewayClientError(
      'UNAVAILABLE',
      `publish not answered: ${String(err)}`,
      false,
      true,
    );
  }
  if (res.status === 202) {
    const { ids } = (await res.json()) as { ids: string[] };
    return { ids, replayed: res.headers.get('idempotent-replayed') === 'true' };
  }
  const error = await errorFromResponse(res);
  if (error.code === 'UNAUTHORIZED' && !tokenRefreshed && via.refreshable) {
    await via.tokens.fetch();
    return postWrite(write, via, true);
  }
  throw error;
}

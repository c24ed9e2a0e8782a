export { GatewayClient, type PublishEvent } from './gateway-client.js';
export { OutgoingQueue } from './outgoing-queue.js';
export { fullJitterDelay } from './backoff.js';
export { SseParser, type SseMessage } from './sse-parser.js';
export { tokenExpiry } from './token-source.js';
export {
  GatewayClientError,
  type ClientOptions,
  type ConnectionState,
  type EventEnvelope,
  type PublishOptions,
  type PublishResult,
  type Snapshot,
  type SubscribeOptions,
  type TransportName,
} from './types.js';
export type { CommandPayloads, CommandType } from '../core/commands.js';

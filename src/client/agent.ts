/**
 * `realtime-event-gateway/agent`: what an agent process uses (Node only).
 * The agent client (presence, commands with interrupts, output as log lines)
 * and the log tailer.
 */
export {
  AgentClient,
  type AgentClientOptions,
  type CommandContext,
  type CommandHandler,
} from './agent-client.js';
export {
  DEFAULT_SENTINEL,
  tailFile,
  truncate,
  type TailEnd,
  type TailOptions,
  type Tailer,
} from './tail-file.js';
export type { CommandPayloads, CommandType } from '../core/commands.js';

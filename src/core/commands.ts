import { IsString, MaxLength, MinLength } from 'class-validator';
import { IsId } from './payloads.js';

/** `agent.instruct`: free text for the agent. */
export class AgentInstruct {
  @IsString() @MinLength(1) @MaxLength(4000) text: string;
}

/** `run.interrupt`: stop that run. */
export class RunInterrupt {
  @IsId() runId: string;
}

/** `task.retry`: run that task again. */
export class TaskRetry {
  @IsId() taskId: string;
}

/** The typed map of command types to their `args`: the compile-time half, shared with the SDK. */
export interface CommandPayloads {
  'agent.instruct': AgentInstruct;
  'run.interrupt': RunInterrupt;
  'task.retry': TaskRetry;
}
export type CommandType = keyof CommandPayloads;

/** The runtime half: each command type's `args` class, validated like an event payload. */
export const COMMAND_REGISTRY: { [C in CommandType]: new () => CommandPayloads[C] } = {
  'agent.instruct': AgentInstruct,
  'run.interrupt': RunInterrupt,
  'task.retry': TaskRetry,
};

/** The owner (registry `owner`) of an agent's commands: the store indexes its unfinished ones. */
export const commandOwner = (agentId: string): string => `agent:${agentId}`;

export const COMMAND_TYPES = Object.keys(COMMAND_REGISTRY) as CommandType[];

export function isCommandType(value: unknown): value is CommandType {
  return typeof value === 'string' && Object.hasOwn(COMMAND_REGISTRY, value);
}

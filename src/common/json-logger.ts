import type { LoggerService } from '@nestjs/common';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

/** Field names whose values are never written, wherever they appear. */
const SECRET_FIELDS = /token|secret|authorization|password|ticket/i;

/**
 * Structured JSON logs, one object per line on stdout. Values of fields that
 * look like credentials are replaced, so a token never reaches a log.
 */
export class JsonLogger implements LoggerService {
  constructor(
    private readonly level: LogLevel = 'info',
    private readonly base: Record<string, unknown> = {},
  ) {}

  child(fields: Record<string, unknown>): JsonLogger {
    return new JsonLogger(this.level, { ...this.base, ...fields });
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }

  /** `logger.event('info', 'subscribed', { projectId })`: the preferred form in our code. */
  event(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    if (LEVELS[level] < LEVELS[this.level]) return;
    const line = { time: new Date().toISOString(), level, msg, ...this.base, ...redact(fields) };
    process.stdout.write(`${safeStringify(line)}\n`);
  }

  private write(level: LogLevel, message: unknown, rest: unknown[]): void {
    // Nest passes (message, context) or (message, stack, context).
    const context = typeof rest.at(-1) === 'string' ? (rest.at(-1) as string) : undefined;
    const fields: Record<string, unknown> = {};
    if (context) fields.context = context;
    if (level === 'error' && typeof rest[0] === 'string' && rest.length > 1) fields.stack = rest[0];
    if (message instanceof Error) {
      fields.error = message.message;
      fields.stack = message.stack;
      this.event(level, message.message, fields);
    } else if (typeof message === 'object' && message !== null) {
      this.event(level, 'log', { ...fields, ...(message as Record<string, unknown>) });
    } else {
      this.event(level, String(message), fields);
    }
  }
}

function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (SECRET_FIELDS.test(key)) out[key] = '[redacted]';
    else if (value instanceof Error) out[key] = value.message;
    else out[key] = value;
  }
  return out;
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return JSON.stringify({ level: 'error', msg: 'unserialisable log line' });
  }
}

export const LOGGER = Symbol('Logger');

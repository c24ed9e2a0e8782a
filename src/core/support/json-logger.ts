import type { LoggerService } from '@nestjs/common';
import { pino, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Field names whose values are never written, wherever they appear. */
const SECRET_FIELDS = /token|secret|authorization|password|ticket/i;

/**
 * Structured JSON logs (pino), one object per line on stdout:
 * `{ level, time, msg, ...fields }` with the level as its name and the time
 * in ISO 8601. Values of fields whose names look like credentials are
 * replaced: pino's own `redact` takes fixed paths, and a token must not
 * reach a log under any field name. Also Nest's logger, so framework lines
 * come out the same way.
 */
export class JsonLogger implements LoggerService {
  private readonly pino: Logger;

  /**
   * @param level lowest level written (default `info`)
   * @param base fields on every line
   * @param destination where lines go (default stdout, written synchronously)
   */
  constructor(
    level: LogLevel = 'info',
    base: Record<string, unknown> = {},
    destination?: DestinationStream,
  ) {
    const options = {
      level,
      base: Object.keys(base).length > 0 ? redact(base) : null,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label: string) => ({ level: label }) },
    };
    this.pino = destination ? pino(options, destination) : pino(options);
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
    if (!this.pino.isLevelEnabled(level)) return;
    this.pino[level](redact(fields), msg);
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

export const LOGGER = Symbol('Logger');

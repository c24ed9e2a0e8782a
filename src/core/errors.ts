/**
 * Errors are data: every failure a client can see carries one of these stable codes.
 * Clients branch on `code`; `message` is for humans and may change.
 */
export const ErrorCodes = [
  'INVALID_PAYLOAD',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'IDEMPOTENCY_MISMATCH',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'QUEUE_FULL',
  'TOO_MANY_CONNECTIONS',
  'RESYNC',
  'UNAVAILABLE',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ErrorCodes)[number];

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_PAYLOAD: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  IDEMPOTENCY_MISMATCH: 422,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  QUEUE_FULL: 429,
  TOO_MANY_CONNECTIONS: 429,
  RESYNC: 410,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

export class GatewayError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Seconds a client should wait before retrying (429, 503). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'GatewayError';
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** Raised by storage adapters when Redis cannot take the command right now. */
export class UnavailableError extends GatewayError {
  constructor(message = 'the event store is unavailable, retry shortly', retryAfterSeconds = 1) {
    super('UNAVAILABLE', message, undefined, retryAfterSeconds);
  }
}

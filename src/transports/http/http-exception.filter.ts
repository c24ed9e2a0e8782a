import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { GatewayError, type ErrorCode } from '../../core/errors.js';
import type { JsonLogger } from '../../core/support/json-logger.js';

const BY_STATUS: Record<number, ErrorCode> = {
  400: 'INVALID_PAYLOAD',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMITED',
  503: 'UNAVAILABLE',
};

/** Every HTTP error has the body `{ error: { code, message, details? } }`. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: JsonLogger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const error = sendHttpError(host.switchToHttp().getResponse<Response>(), exception);
    if (error.code === 'INTERNAL') {
      this.logger.event('error', 'request failed', { error: exception });
    }
  }
}

/** Writes `{ error: { code, message, details? } }` with its status (and Retry-After). */
export function sendHttpError(res: Response, exception: unknown): GatewayError {
  const error = toGatewayError(exception);
  if (error.retryAfterSeconds !== undefined) {
    res.setHeader('Retry-After', String(error.retryAfterSeconds));
  }
  res.status(error.httpStatus).json({ error: error.toBody() });
  return error;
}

export function toGatewayError(exception: unknown): GatewayError {
  if (exception instanceof GatewayError) return exception;
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    return new GatewayError(BY_STATUS[status] ?? 'INTERNAL', exception.message);
  }
  // body-parser errors carry `type` and `status`.
  const e = exception as { type?: string; status?: number; message?: string };
  if (e?.type === 'entity.too.large')
    return new GatewayError('PAYLOAD_TOO_LARGE', 'request body too large');
  if (e?.type === 'entity.parse.failed')
    return new GatewayError('INVALID_PAYLOAD', 'request body is not valid JSON');
  if (typeof e?.status === 'number' && BY_STATUS[e.status]) {
    return new GatewayError(BY_STATUS[e.status], e.message ?? 'bad request');
  }
  return new GatewayError('INTERNAL', 'internal error');
}

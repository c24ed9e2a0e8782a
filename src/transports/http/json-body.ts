import type { IncomingMessage } from 'node:http';
import { createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import { GatewayError } from '../../core/errors.js';

/** Largest HTTP body the API reads, decoded: 100 events of a few KiB each. */
export const MAX_BODY_BYTES = 1024 * 1024;

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * Reads a request's JSON body (`application/json` or `+json`, identity, gzip
 * or deflate), as body-parser did for this route: any JSON value, at most
 * `limit` bytes once decoded. Fails with INVALID_PAYLOAD (not JSON, wrong
 * type or encoding) or PAYLOAD_TOO_LARGE (over `limit` decoded, or over
 * `limit` as sent when compressed); a body announced too large is refused
 * before a byte of it is read.
 */
export function readJsonBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const type = req.headers['content-type'];
    if (typeof type !== 'string' || !JSON_TYPE.test(type)) {
      reject(
        invalid(
          'content-type must be application/json',
          'Content-Type',
          'must be application/json',
        ),
      );
      return;
    }
    if (Number(req.headers['content-length'] ?? 0) > limit) {
      reject(tooLarge());
      return;
    }
    let source: Readable;
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding === 'identity') source = req;
    else if (encoding === 'gzip') source = req.pipe(createGunzip());
    else if (encoding === 'deflate') source = req.pipe(createInflate());
    else {
      reject(
        invalid(
          `content-encoding ${encoding} is not supported`,
          'Content-Encoding',
          'must be gzip, deflate or identity',
        ),
      );
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const fail = (error: GatewayError) => {
      if (done) return;
      done = true;
      if (source !== req) source.destroy();
      reject(error);
    };
    if (source !== req) {
      // Compressed bytes are capped too: empty deflate blocks decode to nothing.
      let raw = 0;
      req.on('data', (chunk: Buffer) => {
        raw += chunk.length;
        if (raw > limit) fail(tooLarge());
      });
    }
    source.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) fail(tooLarge());
      else if (!done) chunks.push(chunk);
    });
    source.on('error', () =>
      fail(
        invalid('request body is corrupt', '(root)', 'does not decode with its Content-Encoding'),
      ),
    );
    source.on('end', () => {
      if (done) return;
      done = true;
      try {
        resolve(JSON.parse(Buffer.concat(chunks, size).toString('utf8')));
      } catch {
        reject(invalid('request body is not valid JSON', '(root)', 'must be JSON'));
      }
    });
  });
}

function invalid(message: string, path: string, problem: string): GatewayError {
  return new GatewayError('INVALID_PAYLOAD', message, [{ path, problem }]);
}

function tooLarge(): GatewayError {
  return new GatewayError('PAYLOAD_TOO_LARGE', 'request body too large');
}

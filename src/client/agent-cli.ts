#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { postWrite, randomKey, type OutgoingWrite } from './http-writes.js';
import { OutgoingQueue } from './outgoing-queue.js';
import { DEFAULT_SENTINEL, tailFile } from './tail-file.js';
import { TokenSource } from './token-source.js';
import type { PublishResult } from './types.js';

const USAGE = `usage: gateway-agent tail FILE --run RUN_ID --project PROJECT_ID [--url URL]
                     [--sentinel LINE] [--wait-ms 5000]
Follows FILE and publishes each new line as a log line of RUN_ID, until the
sentinel line (default "${DEFAULT_SENTINEL}") or Ctrl-C. The token (scope
events:publish) is read from GATEWAY_TOKEN; the URL from --url or GATEWAY_URL.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      run: { type: 'string' },
      project: { type: 'string' },
      url: { type: 'string' },
      sentinel: { type: 'string' },
      'wait-ms': { type: 'string' },
    },
  });
  const [verb, file] = positionals;
  const url = values.url ?? process.env.GATEWAY_URL;
  const token = process.env.GATEWAY_TOKEN;
  if (verb !== 'tail' || !file || !values.run || !values.project || !url || !token) {
    console.error(USAGE);
    return 2;
  }
  const tokens = new TokenSource(token, 60_000, () => undefined);
  const queue = new OutgoingQueue<OutgoingWrite, PublishResult>({
    send: (write) =>
      postWrite(write, {
        baseUrl: url.replace(/\/$/, ''),
        tokens,
        refreshable: false,
        timeoutMs: 10_000,
      }),
    maxQueued: 10_000,
    ttlMs: 300_000,
    initialBackoffMs: 500,
    maxBackoffMs: 10_000,
  });
  const tailer = tailFile(file, {
    projectId: values.project,
    runId: values.run,
    publish: (projectId, events) => queue.enqueue({ projectId, body: events, key: randomKey() }),
    ...(values.sentinel !== undefined ? { sentinel: values.sentinel } : {}),
    ...(values['wait-ms'] !== undefined ? { appearTimeoutMs: Number(values['wait-ms']) } : {}),
  });
  process.once('SIGINT', () => tailer.stop());
  process.once('SIGTERM', () => tailer.stop());
  const end = await tailer.done;
  tokens.stop();
  console.error(`tail ended (${end}): ${tailer.lines} lines published`);
  return end === 'missing' ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);

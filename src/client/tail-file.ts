import { open, stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import type { PublishEvent } from './http-writes.js';

/** The line a run's log file ends with, by the orchestrator's convention. */
export const DEFAULT_SENTINEL = '=== Run Complete ===';
/** A log line's limit on the gateway (`agent.run.log`): longer lines are cut, with a marker. */
export const MAX_LOG_LINE_BYTES = 8 * 1024;
const MARKER = ' [truncated]';
/** Lines published in one request at most (the publish API's limit is 100 events). */
const BATCH = 100;

export interface TailOptions {
  projectId: string;
  runId: string;
  /** Publishes one batch of log events of the project, in order (a client's `publish`). */
  publish: (projectId: string, events: PublishEvent[]) => Promise<unknown>;
  /** How long to wait for the file to appear, ms. Default 5000. */
  appearTimeoutMs?: number;
  /** The last line: seeing it ends the tail (it is not published). Default `=== Run Complete ===`. */
  sentinel?: string;
  /** How often the file is looked at, ms. Default 200. */
  pollMs?: number;
}

/** How a tail ended: the sentinel, `stop()`, or the file never appeared. */
export type TailEnd = 'sentinel' | 'stopped' | 'missing';

export interface Tailer {
  /** Resolves when the tail ends, every line read published. */
  readonly done: Promise<TailEnd>;
  /** Lines published so far. */
  readonly lines: number;
  stop(): void;
}

/** Tails running in this process, by project and run: a second start is the first. */
const running = new Map<string, Tailer>();

/**
 * Follows a growing log file and publishes each new line as a log line of
 * `runId`: waits (a bounded time) for the file to appear, reads what is
 * added as it is added (a file that shrinks was truncated or replaced, and
 * is read again from its start), cuts lines over the gateway's 8 KiB limit
 * with a ` [truncated]` marker instead of having them refused, and stops at
 * the sentinel line or on `stop()`. Starting a tail for a run that is
 * already being tailed here returns that tail.
 */
export function tailFile(path: string, options: TailOptions): Tailer {
  const key = `${options.projectId}/${options.runId}`;
  const existing = running.get(key);
  if (existing) return existing;
  let stopped = false;
  let published = 0;
  let wake: (() => void) | null = null;
  const tailer: Tailer = {
    get lines() {
      return published;
    },
    stop: () => {
      stopped = true;
      wake?.();
    },
    done: (async (): Promise<TailEnd> => {
      const sentinel = options.sentinel ?? DEFAULT_SENTINEL;
      const pollMs = options.pollMs ?? 200;
      const pause = () =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      let lineNumber = 0;
      const send = async (lines: string[]) => {
        for (let i = 0; i < lines.length; i += BATCH) {
          const events = lines.slice(i, i + BATCH).map((line): PublishEvent => ({
            type: 'agent.run.log',
            data: { runId: options.runId, line: truncate(line), lineNumber: ++lineNumber },
          }));
          await options.publish(options.projectId, events);
          published += events.length;
        }
      };
      const deadline = Date.now() + (options.appearTimeoutMs ?? 5000);
      while (!(await exists(path))) {
        if (stopped) return 'stopped';
        if (Date.now() >= deadline) return 'missing';
        await pause();
      }
      let offset = 0;
      let partial = '';
      // Keeps a character split between two reads whole.
      let decoder = new StringDecoder('utf8');
      for (;;) {
        const size = (await stat(path).catch(() => null))?.size ?? 0;
        if (size < offset) {
          offset = 0;
          partial = '';
          decoder = new StringDecoder('utf8');
        }
        if (size > offset) {
          const bytes = await readRange(path, offset, size);
          offset += bytes.length;
          const chunk = decoder.write(bytes);
          const parts = (partial + chunk).split('\n');
          partial = parts.pop() ?? '';
          const lines = parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
          const end = lines.indexOf(sentinel);
          await send(end >= 0 ? lines.slice(0, end) : lines);
          if (end >= 0) return 'sentinel';
        }
        if (stopped) {
          // What was written before the stop is published; a last line without its newline too.
          if (partial !== '') await send([partial]);
          return 'stopped';
        }
        await pause();
      }
    })().finally(() => running.delete(key)),
  };
  running.set(key, tailer);
  return tailer;
}

/** `line`, cut to the gateway's limit (UTF-8 bytes) with a marker when it is longer. */
export function truncate(line: string, maxBytes = MAX_LOG_LINE_BYTES): string {
  if (Buffer.byteLength(line) <= maxBytes) return line;
  const room = maxBytes - Buffer.byteLength(MARKER);
  // Cut on a character boundary: decode what fits and drop a broken last character.
  let cut = Buffer.from(line).subarray(0, room).toString('utf8');
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return cut + MARKER;
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null)) !== null;
}

async function readRange(path: string, start: number, end: number): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(end - start);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, start);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

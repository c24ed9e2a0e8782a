import { GatewayError } from './errors.js';
import { isId } from './ids.js';
import { isPlainObject } from './support/plain-object.js';
import { validateDto, type FieldProblem } from './support/validate-dto.js';
import type { PendingEvent } from './envelope.js';
import { EVENT_TYPES, isEventType, registryEntry, type EventType } from './registry.js';

const SOURCE_PATTERN = /^[A-Za-z0-9_.:@-]{1,64}$/;
const ALLOWED_KEYS = new Set(['type', 'projectId', 'data', 'source']);

export interface RawEventInput {
  type: unknown;
  projectId: unknown;
  data: unknown;
  source?: unknown;
}

/**
 * Turns one untrusted `{ type, projectId, data, source? }` into a stamped,
 * validated event ready for the store, or throws INVALID_PAYLOAD listing every
 * problem. `defaultSource` is used when the producer gives none.
 */
export function validateEvent(
  input: unknown,
  defaultSource: string,
  now: Date = new Date(),
  pathPrefix = '',
): PendingEvent {
  const at = (p: string) => (pathPrefix ? `${pathPrefix}.${p}` : p);
  if (!isPlainObject(input)) {
    throw new GatewayError('INVALID_PAYLOAD', 'an event must be an object', [
      { path: pathPrefix || '(root)', problem: 'must be an object' },
    ]);
  }
  const problems: FieldProblem[] = [];
  for (const key of Object.keys(input)) {
    if (!ALLOWED_KEYS.has(key)) problems.push({ path: at(key), problem: 'unknown field' });
  }
  if (!isEventType(input.type)) {
    problems.push({
      path: at('type'),
      problem: `unknown event type; one of ${EVENT_TYPES.join(', ')}`,
    });
  }
  if (!isId(input.projectId)) {
    problems.push({ path: at('projectId'), problem: 'must match ^[A-Za-z0-9_-]{1,64}$' });
  }
  if (
    input.source !== undefined &&
    !(typeof input.source === 'string' && SOURCE_PATTERN.test(input.source))
  ) {
    problems.push({ path: at('source'), problem: 'must match ^[A-Za-z0-9_.:@-]{1,64}$' });
  }
  if (input.data === undefined) problems.push({ path: at('data'), problem: 'is required' });
  if (problems.length > 0 || !isEventType(input.type)) throw invalid(problems);

  const type: EventType = input.type;
  const entry = registryEntry(type);
  let data;
  try {
    data = validateDto(entry.payload, input.data, `data of ${type}`, at('data'));
  } catch (err) {
    if (err instanceof GatewayError && Array.isArray(err.details)) {
      throw invalid([...problems, ...(err.details as FieldProblem[])]);
    }
    throw err;
  }
  // A plain copy: instances of payload classes never leave this function.
  const plain = { ...data };
  const anyEntry = entry as {
    entityKey: (d: unknown) => string | null;
    ends: (d: unknown) => boolean;
    owner?: (d: unknown) => string;
    isLog?: true;
  };
  return {
    type,
    projectId: input.projectId as string,
    occurredAt: now.toISOString(),
    source: (input.source as string | undefined) ?? defaultSource,
    data: plain,
    entityKey: anyEntry.entityKey(plain),
    ends: anyEntry.ends(plain),
    owner: anyEntry.owner?.(plain) ?? null,
    runId: anyEntry.isLog ? (plain as { runId: string }).runId : null,
  };
}

function invalid(problems: FieldProblem[]): GatewayError {
  return new GatewayError(
    'INVALID_PAYLOAD',
    `invalid event: ${problems.map((p) => `${p.path}: ${p.problem}`).join('; ')}`,
    problems,
  );
}

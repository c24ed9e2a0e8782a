import {
  compilePattern,
  isValidPattern,
  matchesPattern,
  TypeFilter,
} from '../../src/core/pattern.js';

describe('event type patterns', () => {
  it.each([
    ['task.status.changed', 'task.status.changed', true],
    ['task.status.changed', 'task.status.changes', false],
    ['agent.*', 'agent.status.changed', true],
    ['agent.*', 'agent.run.log', true],
    ['agent.*', 'agent', false],
    ['agent.*', 'agents.run.log', false],
    ['agent.run.*', 'agent.run.completed', true],
    ['agent.run.*', 'agent.status.changed', false],
    ['*.*.completed', 'agent.run.completed', true],
    ['*.*.completed', 'agent.run.failed', false],
    ['*.*.completed', 'task.completed', false],
    ['*.status.changed', 'subtask.status.changed', true],
    ['*.status.changed', 'subtask.unblocked', false],
    ['*', 'system.resource.sampled', true],
    ['*', 'anything', true],
    ['task.*.changed', 'task.status.changed', true],
    ['task.*.changed', 'task.status.extra.changed', false],
  ])('%s matches %s: %s', (pattern, type, expected) => {
    expect(matchesPattern(pattern, type)).toBe(expected);
  });

  it.each([
    '',
    '.',
    'agent.',
    '.agent',
    'agent..run',
    'agent.r*n',
    'agent.**',
    'a b',
    'x'.repeat(201),
    'a.b.c.d.e.f.g.h.i',
  ])('rejects the invalid pattern %j', (pattern) => {
    expect(isValidPattern(pattern)).toBe(false);
    expect(() => compilePattern(pattern)).toThrow();
  });

  it('rejects non-strings as patterns', () => {
    for (const value of [null, undefined, 1, {}, ['agent.*']])
      expect(isValidPattern(value)).toBe(false);
  });

  it('matches a set of patterns when any matches, and keys equal sets equally', () => {
    const f = new TypeFilter(['task.*', 'agent.run.*']);
    expect(f.matches('task.status.changed')).toBe(true);
    expect(f.matches('agent.run.log')).toBe(true);
    expect(f.matches('agent.status.changed')).toBe(false);
    expect(new TypeFilter(['agent.run.*', 'task.*', 'task.*']).key).toBe(f.key);
    expect(new TypeFilter(undefined).matchesAll).toBe(true);
    expect(new TypeFilter([]).matches('x.y.z')).toBe(true);
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import YAML from 'yaml';

const CHART = join(__dirname, '..', '..', 'helm', 'realtime-event-gateway');
const read = (...parts: string[]) => readFileSync(join(CHART, ...parts), 'utf8');
type Json = Record<string, unknown>;

/**
 * What can be checked without a Helm binary: the schema against the values
 * and the examples, that templates only use values that exist, that every
 * value is documented, and that template actions are balanced.
 */
describe('Helm chart', () => {
  const schema = JSON.parse(read('values.schema.json')) as Json;
  const values = YAML.parse(read('values.yaml')) as Json;
  const templates = readdirSync(join(CHART, 'templates')).filter((f) =>
    /\.(yaml|tpl|txt)$/.test(f),
  );

  it('has a v2 Chart.yaml', () => {
    const chart = YAML.parse(read('Chart.yaml')) as Json;
    expect(chart).toMatchObject({
      apiVersion: 'v2',
      name: 'realtime-event-gateway',
      type: 'application',
    });
  });

  it('validates values.yaml and every example against values.schema.json', () => {
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const files = [
      ['values.yaml', values],
      ...readdirSync(join(CHART, 'examples')).map(
        (f) => [f, YAML.parse(read('examples', f)) as Json] as const,
      ),
    ] as const;
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const [name, doc] of files) {
      const ok = validate(doc);
      expect([name, ok ? [] : validate.errors]).toEqual([name, []]);
    }
  });

  it('refuses values the schema does not know (so typos fail at install)', () => {
    const validate = new Ajv({ strict: false }).compile(schema);
    expect(validate({ ...values, replicas: 3 })).toBe(false);
    expect(validate({ ...values, config: { ...(values.config as Json), drainWindow: 5 } })).toBe(
      false,
    );
    expect(validate({ ...values, config: { ...(values.config as Json), logLevel: 'loud' } })).toBe(
      false,
    );
  });

  it('describes every value in the schema and documents it in the chart README', () => {
    const readme = read('README.md');
    const missing: string[] = [];
    const walk = (props: Record<string, Json>, prefix: string) => {
      for (const [key, prop] of Object.entries(props)) {
        const path = `${prefix}${key}`;
        if (typeof prop.description !== 'string' || prop.description.length < 5)
          missing.push(`${path}: no description`);
        if (!readme.includes(`\`${path}\``)) missing.push(`${path}: not in README`);
        if (prop.properties) walk(prop.properties as Record<string, Json>, `${path}.`);
      }
    };
    walk(schema.properties as Record<string, Json>, '');
    expect(missing).toEqual([]);
  });

  it('uses only values that exist in values.yaml', () => {
    const has = (path: string[]) => {
      let node: unknown = values;
      for (const key of path) {
        if (node === null || typeof node !== 'object' || !(key in (node as Json))) return false;
        node = (node as Json)[key];
      }
      return true;
    };
    const unknown: string[] = [];
    let used = 0;
    for (const file of templates) {
      for (const match of read('templates', file).matchAll(/\.Values((?:\.[A-Za-z0-9_]+)+)/g)) {
        used++;
        const path = match[1].slice(1).split('.');
        if (!has(path)) unknown.push(`${file}: .Values.${path.join('.')}`);
      }
    }
    expect(used).toBeGreaterThan(50);
    expect(unknown).toEqual([]);
  });

  it('balances template actions and blocks in every template', () => {
    for (const file of templates) {
      const text = read('templates', file);
      expect([file, (text.match(/{{/g) ?? []).length]).toEqual([
        file,
        (text.match(/}}/g) ?? []).length,
      ]);
      const opens = (text.match(/{{-?\s*(if|range|with|define)\b/g) ?? []).length;
      const ends = (text.match(/{{-?\s*end\s*-?}}/g) ?? []).length;
      expect([file, opens]).toEqual([file, ends]);
    }
  });

  it('keeps liveness off Redis, readiness on it, and covers the drain window at termination', () => {
    const deployment = read('templates', 'deployment.yaml');
    expect(deployment).toMatch(/livenessProbe:\s+httpGet:\s+path: \/healthz/);
    expect(deployment).toMatch(/readinessProbe:\s+httpGet:\s+path: \/readyz/);
    expect(deployment).toContain(
      'terminationGracePeriodSeconds: {{ include "gateway.terminationGracePeriod" . }}',
    );
    expect(read('templates', '_helpers.tpl')).toContain(
      'add .Values.preStopSleepSeconds (div .Values.config.drainWindowMs 1000) 10',
    );
    const securityContext = values.securityContext as Json;
    expect(securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(values.podSecurityContext).toMatchObject({ runAsNonRoot: true });
  });
});

import {
  Matches,
  Validate,
  ValidatorConstraint,
  validateSync,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { validateDto } from '../../src/core/support/validate-dto.js';
import { ValidationPlan } from '../../src/core/support/validation-plan.js';
import { EVENT_TYPES, registryEntry } from '../../src/core/registry.js';
import { SubscribeDto } from '../../src/delivery/subscribe.dto.js';
import { Shape } from '../support/nested-dto.js';
import { VALID_EVENT_DATA } from '../support/sample-events.js';

/** The options validateDto gives class-validator. */
const OPTIONS = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true };

type Dto = new () => object;

const CASES: [string, Dto, Record<string, unknown>][] = [
  ...EVENT_TYPES.map((type): [string, Dto, Record<string, unknown>] => [
    type,
    registryEntry(type).payload as Dto,
    VALID_EVENT_DATA[type],
  ]),
  ['SubscribeDto', SubscribeDto, { projectId: 'p1', since: '1732185600000-0', types: ['agent.*'] }],
];

/** Values of every kind a field might be given, right and wrong. */
const VALUES: unknown[] = [
  undefined,
  null,
  '',
  'x',
  'planning',
  'busy',
  'info',
  'worker',
  'https://x.test/pr/2',
  '1732185600000-0',
  'a'.repeat(70),
  0,
  -1,
  1.5,
  100,
  101,
  Number.NaN,
  true,
  false,
  [],
  ['agent.*'],
  ['no such pattern!'],
  {},
];

/** The sample, each field removed or replaced by each of VALUES, and one unknown field. */
function variants(sample: Record<string, unknown>): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [sample, { ...sample, unknown: 1 }];
  for (const field of Object.keys(sample)) {
    const without = { ...sample };
    delete without[field];
    out.push(without);
    for (const value of VALUES) out.push({ ...sample, [field]: value });
  }
  return out;
}

const acceptedByClassValidator = (cls: Dto, input: object) =>
  validateSync(Object.assign(new cls(), input), OPTIONS).length === 0;

function acceptedByValidateDto(cls: Dto, input: object): boolean {
  try {
    validateDto(cls, input, 'input');
    return true;
  } catch {
    return false;
  }
}

class Tags {
  @Matches(/^[a-z]+$/, { each: true }) tags!: string[];
}

@ValidatorConstraint({ name: 'later', async: true })
class LaterRule implements ValidatorConstraintInterface {
  validate(): Promise<boolean> {
    return Promise.resolve(true);
  }
}

class Checked {
  @Validate(LaterRule) value!: string;
}

class Bare {
  value!: string;
}

describe('validation plans (valid input settled without class-validator bookkeeping)', () => {
  it.each(CASES)('%s has a plan, and it accepts the valid sample', (_name, cls, sample) => {
    const plan = ValidationPlan.for(cls);
    expect(plan).not.toBeNull();
    expect(plan?.accepts(Object.assign(new cls(), sample))).toBe(true);
  });

  it.each(CASES)(
    '%s: the plan never accepts what class-validator refuses, and validateDto decides as class-validator does',
    (_name, cls, sample) => {
      const plan = ValidationPlan.for(cls)!;
      const tally = { planYes: 0, fullNo: 0 };
      for (const input of variants(sample)) {
        const full = acceptedByClassValidator(cls, input);
        const fast = plan.accepts(Object.assign(new cls(), input));
        if (fast) tally.planYes++;
        if (!full) tally.fullNo++;
        expect({ input, fast, full }).toEqual({ input, fast: fast && full, full });
        expect({ input, viaValidateDto: acceptedByValidateDto(cls, input) }).toEqual({
          input,
          viaValidateDto: full,
        });
      }
      // Both answers came up, so neither check above held by default.
      expect(tally.planYes).toBeGreaterThan(0);
      expect(tally.fullNo).toBeGreaterThan(0);
    },
  );

  it('is stricter than class-validator where its whitelist lets a key through by accident, and validateDto still answers as class-validator', () => {
    const input = { projectId: 'p1', hasOwnProperty: 1 };
    expect(acceptedByClassValidator(SubscribeDto, input)).toBe(true);
    expect(
      ValidationPlan.for(SubscribeDto)!.accepts(Object.assign(new SubscribeDto(), input)),
    ).toBe(false);
  });

  it('leaves to class-validator a class with nested objects, async rules or no rules', () => {
    expect(ValidationPlan.for(Shape)).toBeNull();
    expect(ValidationPlan.for(Checked)).toBeNull();
    expect(ValidationPlan.for(Bare)).toBeNull();
    expect(acceptedByValidateDto(Bare, { value: 'x' })).toBe(false);
  });

  it('checks an `each` rule on every element of an array, and leaves anything else to class-validator', () => {
    const plan = ValidationPlan.for(Tags)!;
    const accepts = (tags: unknown) => plan.accepts(Object.assign(new Tags(), { tags }));
    expect(accepts(['a', 'b'])).toBe(true);
    expect(accepts([])).toBe(true);
    expect(accepts(['a', 'B'])).toBe(false);
    expect(accepts(new Set(['a']))).toBe(false);
    expect(accepts('a')).toBe(false);
    // What JSON can carry (no Set): validateDto answers as class-validator does.
    for (const tags of [['a', 'b'], ['a', 'B'], 'a', [], [1], null]) {
      expect({ tags, viaValidateDto: acceptedByValidateDto(Tags, { tags }) }).toEqual({
        tags,
        viaValidateDto: acceptedByClassValidator(Tags, { tags }),
      });
    }
  });
});

import {
  getMetadataStorage,
  ValidationTypes,
  type MetadataStorage,
  type ValidationArguments,
  type ValidatorConstraintInterface,
} from 'class-validator';

/** class-validator does not export the type of its rules. */
type ValidationMetadata = ReturnType<MetadataStorage['getTargetValidationMetadatas']>[number];

type Condition = (object: object, value: unknown) => boolean;

/** One class-validator rule on a property, ready to call. */
interface Check {
  readonly rule: ValidationMetadata;
  /** The rule's constraint instance, from class-validator's container. */
  readonly constraint: { readonly instance: ValidatorConstraintInterface };
}

interface PropertyPlan {
  readonly name: string;
  /** `@ValidateIf` / `@IsOptional`: the property is checked only when all hold. */
  readonly conditions: readonly Condition[];
  readonly checks: readonly Check[];
}

/**
 * A class's validation rules, read once from class-validator's metadata, for
 * the common case of valid input: `accepts` runs the very constraint
 * instances `validateSync` would, with the same arguments, but none of the
 * per-call bookkeeping (every call re-filters the metadata of all
 * registered classes and builds an error object per property, valid or not;
 * it was about half of what a publish request allocated).
 *
 * It only ever answers "valid" when `validateSync` (with the options
 * `validateDto` uses: whitelist, forbidNonWhitelisted, forbidUnknownValues,
 * no groups) would find no error. It may be stricter (it refuses a key
 * class-validator's whitelist lets through by accident, such as
 * `hasOwnProperty`), and whenever it says no, the caller runs
 * `validateSync`, which decides and words the errors.
 */
export class ValidationPlan {
  private readonly allowed: ReadonlySet<string>;

  private constructor(private readonly properties: readonly PropertyPlan[]) {
    this.allowed = new Set(properties.map((p) => p.name));
  }

  /** The plan for `cls`, or null when its rules need class-validator itself. Built once per class. */
  static for(cls: new () => object): ValidationPlan | null {
    let plan = plans.get(cls);
    if (plan === undefined) {
      plan = ValidationPlan.compile(cls);
      plans.set(cls, plan);
    }
    return plan;
  }

  /** True only when `validateSync` would find nothing wrong with `instance`. */
  accepts(instance: object): boolean {
    for (const key of Object.keys(instance)) if (!this.allowed.has(key)) return false;
    const fields = instance as Record<string, unknown>;
    const targetName = (instance.constructor as { name?: string } | undefined)?.name;
    for (const property of this.properties) {
      const value = fields[property.name];
      // Every condition is called, as class-validator does, before any is read.
      let applies = true;
      for (const condition of property.conditions) applies = condition(instance, value) && applies;
      if (!applies) continue;
      for (const { rule, constraint } of property.checks) {
        if (rule.validateIf && !rule.validateIf(instance, value)) continue;
        const args: ValidationArguments = {
          targetName: targetName as string,
          property: property.name,
          object: instance,
          value,
          constraints: rule.constraints,
        };
        // Anything but `true` (false, a promise, a truthy non-boolean) is
        // class-validator's to settle.
        if (rule.each) {
          // `each` over an array: every element must pass. Anything else
          // (a Set, a Map, not a collection) is class-validator's to settle.
          if (!Array.isArray(value)) return false;
          for (const element of value as unknown[]) {
            if (constraint.instance.validate(element, args) !== true) return false;
          }
        } else if (constraint.instance.validate(value, args) !== true) return false;
      }
    }
    return true;
  }

  /**
   * The rules `validateSync` applies to `cls`, or null for anything beyond
   * plain property rules (nested objects, promises, async constraints): those keep going through class-validator every time.
   */
  private static compile(cls: new () => object): ValidationPlan | null {
    const storage = getMetadataStorage();
    // As validateSync asks with our options: no schema, always false, no groups.
    const rules = storage.getTargetValidationMetadatas(
      cls,
      undefined as unknown as string,
      false,
      false,
    );
    if (rules.length === 0) return null;
    const byName = new Map<string, { conditions: Condition[]; checks: Check[] }>();
    for (const rule of rules) {
      let property = byName.get(rule.propertyName);
      if (!property) {
        property = { conditions: [], checks: [] };
        byName.set(rule.propertyName, property);
      }
      switch (rule.type) {
        case ValidationTypes.WHITELIST:
          break;
        case ValidationTypes.CONDITIONAL_VALIDATION:
          property.conditions.push(rule.constraints[0] as Condition);
          break;
        case ValidationTypes.IS_DEFINED:
        case ValidationTypes.CUSTOM_VALIDATION:
          for (const constraint of storage.getTargetValidatorConstraints(rule.constraintCls)) {
            if (constraint.async) return null;
            property.checks.push({ rule, constraint });
          }
          break;
        default:
          return null;
      }
    }
    return new ValidationPlan([...byName].map(([name, p]) => ({ name, ...p })));
  }
}

const plans = new WeakMap<new () => object, ValidationPlan | null>();

import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { GatewayError } from '../errors.js';
import { isFlatDto } from './flat-dto.js';
import { findUnsafeInput, isPlainObject } from './plain-object.js';
import { ValidationPlan } from './validation-plan.js';

export interface FieldProblem {
  path: string;
  problem: string;
}

/** Flattens class-validator's tree into `path: problem` pairs for `details`. */
export function flattenValidationErrors(errors: ValidationError[], prefix = ''): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const e of errors) {
    const path = prefix ? `${prefix}.${e.property}` : e.property;
    for (const message of Object.values(e.constraints ?? {})) out.push({ path, problem: message });
    if (e.children?.length) out.push(...flattenValidationErrors(e.children, path));
  }
  return out;
}

/**
 * Validates untrusted input into an instance of `cls`: plain data only, no
 * unknown keys, every class-validator rule. Throws INVALID_PAYLOAD with the
 * list of problems; never returns a partly valid object.
 */
export function validateDto<T extends object>(
  cls: new () => T,
  input: unknown,
  what: string,
  pathPrefix = '',
): T {
  if (!isPlainObject(input)) {
    throw new GatewayError('INVALID_PAYLOAD', `${what} must be an object`, [
      { path: pathPrefix || '(root)', problem: 'must be an object' },
    ]);
  }
  const unsafe = findUnsafeInput(input);
  if (unsafe) {
    throw new GatewayError('INVALID_PAYLOAD', `${what}: ${unsafe}`, [
      { path: pathPrefix || '(root)', problem: unsafe },
    ]);
  }
  const instance = isFlatDto(cls) ? Object.assign(new cls(), input) : plainToInstance(cls, input);
  // Valid input (nearly all of it) is settled by the class's plan; anything
  // else goes through class-validator, which decides and words the errors.
  if (ValidationPlan.for(cls)?.accepts(instance)) return instance;
  const errors = validateSync(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
  });
  if (errors.length > 0) {
    const details = flattenValidationErrors(errors, pathPrefix);
    throw new GatewayError(
      'INVALID_PAYLOAD',
      `${what} is invalid: ${details.map((d) => `${d.path}: ${d.problem}`).join('; ')}`,
      details,
    );
  }
  return instance;
}

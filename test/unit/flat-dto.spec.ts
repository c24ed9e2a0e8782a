import { isFlatDto } from '../../src/core/support/flat-dto.js';
import { GatewayError } from '../../src/core/errors.js';
import { validateDto } from '../../src/core/support/validate-dto.js';
import { EVENT_TYPES, registryEntry } from '../../src/core/registry.js';
import { SubscribeDto } from '../../src/delivery/subscribe.dto.js';
import { Point, Shape } from '../support/nested-dto.js';

describe('flat DTO classes (validated without class-transformer)', () => {
  it('every event payload class and the subscribe DTO are flat', () => {
    for (const type of EVENT_TYPES)
      expect([type, isFlatDto(registryEntry(type).payload)]).toEqual([type, true]);
    expect(isFlatDto(SubscribeDto)).toBe(true);
  });

  it('a class with a nested @Type field is not, and still gets its nested instance', () => {
    expect(isFlatDto(Shape)).toBe(false);
    const shape = validateDto(Shape, { name: 's', origin: { x: 1 } }, 'shape');
    expect(shape.origin).toBeInstanceOf(Point);
    expect(() => validateDto(Shape, { name: 's', origin: { x: 'no' } }, 'shape')).toThrow(
      GatewayError,
    );
  });

  it('a flat class comes back as an instance with exactly the input fields, and unknown fields still fail', () => {
    const point = validateDto(Point, { x: 3 }, 'point');
    expect(point).toBeInstanceOf(Point);
    expect({ ...point }).toEqual({ x: 3 });
    expect(() => validateDto(Point, { x: 3, y: 4 }, 'point')).toThrow(
      /y: property y should not exist/,
    );
    expect(() => validateDto(Point, JSON.parse('{"x":1,"__proto__":{"a":1}}'), 'point')).toThrow(
      /__proto__ is not allowed/,
    );
  });
});

import { TransformationType } from 'class-transformer';
import { getMetadataStorage } from 'class-validator';
import { transformerMetadata as storage } from '../../internals/class-transformer.js';

const known = new WeakMap<object, boolean>();

/**
 * Whether plainToInstance would do nothing for `cls` but copy an object's
 * fields onto a new instance: no class-transformer decorator on the class
 * or on any field class-validator checks. For such a class an
 * `Object.assign` gives class-validator the same instance at a fraction of
 * the cost (it was a fifth of a publish request). Asked once per class.
 */
export function isFlatDto(cls: new () => object): boolean {
  let flat = known.get(cls);
  if (flat === undefined) {
    const fields = new Set(
      getMetadataStorage()
        .getTargetValidationMetadatas(cls, '', true, false)
        .map((m) => m.propertyName),
    );
    flat =
      storage.getStrategy(cls) === 'none' &&
      storage.getExposedMetadatas(cls).length === 0 &&
      storage.getExcludedMetadatas(cls).length === 0 &&
      [...fields].every(
        (field) =>
          !storage.findTypeMetadata(cls, field) &&
          storage.findTransformMetadatas(cls, field, TransformationType.PLAIN_TO_CLASS).length ===
            0,
      );
    known.set(cls, flat);
  }
  return flat;
}

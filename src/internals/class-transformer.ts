import type { TransformationType } from 'class-transformer';
// class-transformer keeps its decorators' metadata here; the package exports
// no public way to ask whether a class has any.
import { defaultMetadataStorage } from 'class-transformer/cjs/storage.js';

/**
 * class-transformer's private parts the gateway relies on, all of them
 * (checked by name in test/e2e/library-internals.spec.ts).
 */

/** What class-transformer's metadata storage answers that we ask. */
export interface TransformerMetadata {
  getStrategy(target: object): 'excludeAll' | 'exposeAll' | 'none';
  getExposedMetadatas(target: object): unknown[];
  getExcludedMetadatas(target: object): unknown[];
  findTypeMetadata(target: object, property: string): unknown;
  findTransformMetadatas(target: object, property: string, type: TransformationType): unknown[];
}

/** The storage every class-transformer decorator writes to (`cjs/storage.js`). */
export const transformerMetadata = defaultMetadataStorage as TransformerMetadata;

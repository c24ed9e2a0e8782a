// class-transformer ships no types for its metadata storage's own module.
declare module 'class-transformer/cjs/storage.js' {
  export const defaultMetadataStorage: unknown;
}

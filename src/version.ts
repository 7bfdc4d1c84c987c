import { createRequire } from 'node:module';

// package.json sits one level above both src/ (tests) and dist/ (the built CLI).
const manifest = createRequire(import.meta.url)('../package.json') as { version: string };

export const CARAPACE_VERSION: string = manifest.version;

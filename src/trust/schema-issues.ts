import type { z } from 'zod';

/** One bad field of a trust file, as a dotted path. */
export interface SchemaIssue {
  readonly path: string;
  readonly message: string;
}

/** Flattens zod issues into dotted paths, one per unknown field, so an error names every bad field. */
export function toSchemaIssues(issues: readonly z.core.$ZodIssue[]): SchemaIssue[] {
  return issues.flatMap((issue) => {
    const at = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...at, key].join('.'), message: 'unknown field' }));
    }
    return [{ path: at.length === 0 ? '(file)' : at.join('.'), message: issue.message }];
  });
}

/** `path: message; path: message`, for an error message. */
export function listIssues(issues: readonly SchemaIssue[]): string {
  return issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
}

/**
 * Contract violations already reported and awaiting their owner's fix (reproducers in
 * fuzz/crashes/, described in fuzz/crashes/OPEN.json). `npm run fuzz` tolerates them so the fuzzer
 * keeps exploring instead of stopping on the same bug again; the corpus replay never does.
 * Remove a pattern once its bug is fixed.
 */
export const KNOWN_OPEN: readonly RegExp[] = [];

export function isKnownOpen(message: string): boolean {
  return KNOWN_OPEN.some((pattern) => pattern.test(message));
}

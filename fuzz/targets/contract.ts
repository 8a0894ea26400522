/**
 * What every fuzz target asserts: the code under test returns a result or throws its documented
 * error type, and nothing else. A violation throws `ContractViolation`, which jsfuzz records as a
 * crash and the corpus replay test reports as a failure.
 */
import { ConclaveError, type ErrorCode } from '@conclave/protocol/errors';
import { isKnownOpen } from './known-open.ts';

/** Set by fuzz/run.mjs only: known, reported violations do not stop the fuzzer. */
const tolerateKnown = process.env.CONCLAVE_FUZZ_TOLERATE_KNOWN === '1';

export class ContractViolation extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ContractViolation';
  }
}

export function check(condition: boolean, message: string): asserts condition {
  if (condition || (tolerateKnown && isKnownOpen(message))) return;
  throw new ContractViolation(message);
}

/**
 * Runs `body`; an exception is accepted only when `documented(error)` says it is the documented
 * one. Anything else (TypeError, RangeError, a stack overflow) is a contract violation.
 */
export function expectOnly<T>(
  what: string,
  body: () => T,
  documented: (error: unknown) => boolean,
): { ok: true; value: T } | { ok: false; error: unknown } {
  try {
    return { ok: true, value: body() };
  } catch (error) {
    if (error instanceof ContractViolation) throw error;
    if (documented(error)) return { ok: false, error };
    throw new ContractViolation(`${what} threw an undocumented ${describe(error)}`, { cause: error });
  }
}

/** A ConclaveError with one of the given codes. */
export function conclaveErrorWith(...codes: ErrorCode[]): (error: unknown) => boolean {
  return (error) => error instanceof ConclaveError && codes.includes(error.code);
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `non-Error value ${String(error)}`;
}

/** A deterministic little reader over the fuzz input, for targets that need several values. */
export class InputReader {
  private offset = 0;
  constructor(private readonly data: Uint8Array) {}

  byte(): number {
    return this.offset < this.data.length ? this.data[this.offset++]! : 0;
  }

  rest(): Uint8Array {
    const out = this.data.subarray(Math.min(this.offset, this.data.length));
    this.offset = this.data.length;
    return out;
  }
}

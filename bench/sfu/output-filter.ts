/**
 * Forwards a server's log lines to ours with a prefix, without letting one repeated message
 * (a warning per packet, a stack trace per exception) drown the benchmark's own output.
 */

import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

const REPEATS_SHOWN = 3;

export function forwardLog(stream: Readable | null, prefix: string): { suppressed(): number } {
  const seen = new Map<string, number>();
  let suppressed = 0;
  if (stream) {
    createInterface({ input: stream }).on('line', (line) => {
      if (/^\s+at /.test(line)) return void suppressed++; // stack frames
      const count = (seen.get(line) ?? 0) + 1;
      seen.set(line, count);
      if (count > REPEATS_SHOWN) return void suppressed++;
      console.error(`${prefix} ${line}${count === REPEATS_SHOWN ? ' (further repeats suppressed)' : ''}`);
    });
  }
  return { suppressed: () => suppressed };
}

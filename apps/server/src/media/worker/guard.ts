/**
 * An exception escaping a node-datachannel callback aborts the whole process (SIGABRT, no
 * uncaughtException). Every callback handed to node-datachannel goes through `guard`, created
 * once per registration, never per packet.
 */
export function guard(where: string, body: () => void): () => void;
export function guard<A>(where: string, body: (arg: A) => void): (arg: A) => void;
export function guard<A>(where: string, body: (arg: A) => void): (arg: A) => void {
  // One fixed parameter, no rest arguments: the media callbacks run per packet, and a rest
  // parameter would allocate an array on every call.
  return (arg: A) => {
    try {
      body(arg);
    } catch (error) {
      reportGuarded(where, error);
    }
  };
}

let reported = 0;
let windowStart = 0;

/** At most 20 reports per second: a bug on the packet path must not flood the log. */
function reportGuarded(where: string, error: unknown): void {
  const now = Date.now();
  if (now - windowStart > 1000) {
    windowStart = now;
    reported = 0;
  }
  if (++reported <= 20) console.error(`media: exception in ${where} callback`, error);
}

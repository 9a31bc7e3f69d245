/**
 * Work gathered until the end of the event-loop turn (`setImmediate`, after the turn's I/O), then run together, in
 * order: one `setImmediate` per turn, not one per item. The Node server ends its responses through this
 * (src/http/node-response.ts), and the rate limiters answer `consume` through it when they decide without I/O:
 * answered at once, each request's response went out alone, and each write to the client's socket woke the client on
 * its own (at a fixed 5,000 requests/s the keyed no-op cost 81 µs of CPU per request so, 50 answered per turn:
 * BENCHMARKS.md, session 8).
 */
export class EndOfTurn {
  private pending: (() => void)[] | undefined;

  /** Runs `answer` at the end of this turn, after the answers added before it. */
  add(answer: () => void): void {
    let pending = this.pending;
    if (!pending) {
      const turn: (() => void)[] = [];
      pending = turn;
      this.pending = turn;
      setImmediate(() => {
        this.pending = undefined;
        for (const run of turn) run();
      });
    }
    pending.push(answer);
  }
}

/**
 * A batch's start put off to the end of the turn: the returned function asks for it (one `setImmediate` at most
 * pending), and at the end of the turn `step` runs for as long as `more()` says there is work and room. Nothing is
 * asked for while `more()` is false. `OrderCreator` and `TrackingReader` start their statements so, with every
 * request that arrived in the turn.
 */
export function atEndOfTurnWhile(more: () => boolean, step: () => void): () => void {
  let scheduled = false;
  const run = () => {
    scheduled = false;
    while (more()) step();
  };
  return () => {
    if (scheduled || !more()) return;
    scheduled = true;
    setImmediate(run);
  };
}

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

/**
 * What the batcher writes to: pino's sonic-boom destination in its buffer content mode
 * (`contentMode: "buffer"`), or any stream with `write` and `flushSync` that takes bytes.
 */
export interface LineSink {
  write(chunk: Buffer): unknown;
  flush?(callback?: (error?: Error | null) => void): void;
  flushSync?(): void;
}

/** Characters gathered before they are handed over at once, without waiting for the end of the turn. */
const maxBatchChars = 32_768;
/** The longest a line waits for others before it is handed over and written. */
const maxHoldMs = 200;

/**
 * A pino destination that gathers lines until it has 32 Ki characters or the oldest has waited 200 ms, encodes them
 * to UTF-8 at once, and hands them to `sink` as one buffer.
 *
 * sonic-boom's string mode measures the byte length of every chunk and of the block it appends it to (a string
 * that grows with each chunk, flattened again on every write), and encodes each string it wrote a second time
 * to cut off what the write took. Given bytes, it only counts them (`Buffer.length`) and writes them. Handing over
 * at sonic-boom's `minLength` rather than at the end of each event-loop turn (about 16 lines at saturation, one at
 * moderate rates) saves a `setImmediate` and a sonic-boom write per turn, and its merging of the turns' buffers
 * before each write. Each batch gets a buffer of its own (sonic-boom keeps it until written). Order is kept: every line, the
 * request lines and the redacting logger's alike, passes through here. The bytes are those sonic-boom would have
 * written for the same string (`Buffer.from` and `fs.write` of a string both encode UTF-8, a lone surrogate as
 * U+FFFD). At 200 ms the batcher also asks the sink to write what it holds (`flush`), so an idle service's lines
 * reach stdout within about that long (sonic-boom's own periodic flush catches a remainder left while a write was
 * in flight).
 *
 * Lines gathered are handed over before the process exits, however it exits (an `exit` listener placed ahead of
 * pino's own, which then writes sonic-boom's buffer synchronously; the 200 ms timer does not keep the process
 * alive), and `flushSync` hands them over first.
 */
export class LineBatcher {
  private lines: string[] = [];
  private chars = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly drainNow = () => this.drain();
  private readonly flushIdle = () => {
    this.idleTimer = undefined;
    this.flush();
  };

  constructor(
    private readonly sink: LineSink,
    exitEvents: Pick<NodeJS.Process, "prependListener"> | undefined = process,
  ) {
    exitEvents?.prependListener("exit", this.drainNow);
  }

  write(line: string): boolean {
    this.lines.push(line);
    this.chars += line.length;
    if (this.chars >= maxBatchChars) this.drain();
    else if (this.idleTimer === undefined) {
      this.idleTimer = setTimeout(this.flushIdle, maxHoldMs);
      this.idleTimer.unref();
    }
    return true;
  }

  /** Hands every gathered line to the sink now, as one buffer of bytes. */
  drain(): void {
    if (this.idleTimer !== undefined) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    const { lines } = this;
    if (lines.length === 0) return;
    const text = lines.length === 1 ? (lines[0] as string) : lines.join("");
    this.lines = [];
    this.chars = 0;
    this.sink.write(Buffer.from(text, "utf8"));
  }

  /** Hands the gathered lines over and asks the sink to write everything (pino's `logger.flush`). */
  flush(callback?: (error?: Error | null) => void): void {
    this.drain();
    if (this.sink.flush) this.sink.flush(callback);
    else callback?.();
  }

  /** Hands the gathered lines over and asks the sink to write everything synchronously. */
  flushSync(): void {
    this.drain();
    this.sink.flushSync?.();
  }
}

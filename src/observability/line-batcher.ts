/**
 * What the batcher writes to: pino's sonic-boom destination in its buffer content mode
 * (`contentMode: "buffer"`), or any stream with `write` and `flushSync` that takes bytes.
 */
export interface LineSink {
  write(chunk: Buffer): unknown;
  flush?(callback?: (error?: Error | null) => void): void;
  flushSync?(): void;
}

/** Bytes gathered before they are handed over at once, without waiting for the end of the turn. */
const maxBatchBytes = 16_384;
/** Size of each block lines are encoded into; a line that may not fit in one gets a block of its own size. */
const blockBytes = 65_536;
/** The most bytes one UTF-16 code unit of a JavaScript string can take in UTF-8. */
const maxBytesPerCodeUnit = 3;

/**
 * A pino destination that encodes each line to UTF-8 as it is written, straight into a block of memory, and hands
 * the lines of one event-loop turn to `sink` as one slice of that block.
 *
 * sonic-boom's string mode measures the byte length of every chunk and of the block it appends it to (a string
 * that grows with each chunk, flattened again on every write), and encodes each string it wrote a second time
 * to cut off what the write took. Given bytes, it only counts them (`Buffer.length`) and writes them. A slice is
 * never written over: the block's next lines go after it, and a full block is left to the garbage collector once
 * sonic-boom has written its slices (a new one is taken). Order is kept: every line, the request lines and the
 * redacting logger's alike, passes through here. The bytes are those sonic-boom would have written for the same
 * string (`Buffer.write` and `fs.write` of a string both encode UTF-8, a lone surrogate as U+FFFD).
 *
 * Lines gathered in the current turn are handed over before the process exits (an `exit` listener placed ahead
 * of pino's own, which then writes sonic-boom's buffer synchronously), and `flushSync` hands them over first.
 */
export class LineBatcher {
  private block = Buffer.allocUnsafeSlow(blockBytes);
  /** The first byte of `block` not yet handed to the sink. */
  private start = 0;
  /** The first free byte of `block`. */
  private end = 0;
  private scheduled = false;
  private readonly drainNow = () => this.drain();

  constructor(
    private readonly sink: LineSink,
    exitEvents: Pick<NodeJS.Process, "prependListener"> | undefined = process,
  ) {
    exitEvents?.prependListener("exit", this.drainNow);
  }

  write(line: string): boolean {
    const room = line.length * maxBytesPerCodeUnit;
    if (room > this.block.length - this.end) {
      this.drain();
      this.block = Buffer.allocUnsafeSlow(Math.max(blockBytes, room));
      this.start = 0;
      this.end = 0;
    }
    this.end += this.block.write(line, this.end);
    if (this.end - this.start >= maxBatchBytes) this.drain();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drainNow);
    }
    return true;
  }

  /** Hands every gathered line to the sink now, as one slice of bytes. */
  drain(): void {
    this.scheduled = false;
    const { start, end } = this;
    if (end === start) return;
    this.start = end;
    this.sink.write(this.block.subarray(start, end));
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

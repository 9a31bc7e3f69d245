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
const maxBatchChars = 16_384;
/** Size of each block the lines are encoded into; a batch that may not fit in one gets a block of its own size. */
const blockBytes = 65_536;
/** The most bytes one UTF-16 code unit of a JavaScript string can take in UTF-8. */
const maxBytesPerCodeUnit = 3;

/**
 * A pino destination that gathers the lines of one event-loop turn, encodes them to UTF-8 at once into a block of
 * memory, and hands them to `sink` as one slice of that block.
 *
 * sonic-boom's string mode measures the byte length of every chunk and of the block it appends it to (a string
 * that grows with each chunk, flattened again on every write), and encodes each string it wrote a second time
 * to cut off what the write took. Given bytes, it only counts them (`Buffer.length`) and writes them. The lines are
 * joined first and encoded with one call per turn: one call per line cost more than it saved at saturation (about
 * 16 lines a turn there). A slice is never written over: the next turn's lines go after it, and a full block is
 * left to the garbage collector once sonic-boom has written its slices (a new one is taken). Order is kept: every
 * line, the request lines and the redacting logger's alike, passes through here. The bytes are those sonic-boom
 * would have written for the same string (`Buffer.write` and `fs.write` of a string both encode UTF-8, a lone
 * surrogate as U+FFFD).
 *
 * Lines gathered in the current turn are handed over before the process exits (an `exit` listener placed ahead
 * of pino's own, which then writes sonic-boom's buffer synchronously), and `flushSync` hands them over first.
 */
export class LineBatcher {
  private lines: string[] = [];
  private chars = 0;
  private block = Buffer.allocUnsafeSlow(blockBytes);
  /** The first free byte of `block`: the bytes before it have been handed to the sink. */
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
    this.lines.push(line);
    this.chars += line.length;
    if (this.chars >= maxBatchChars) this.drain();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drainNow);
    }
    return true;
  }

  /** Hands every gathered line to the sink now, as one slice of bytes. */
  drain(): void {
    this.scheduled = false;
    const { lines } = this;
    if (lines.length === 0) return;
    const text = lines.length === 1 ? (lines[0] as string) : lines.join("");
    this.lines = [];
    this.chars = 0;
    const room = text.length * maxBytesPerCodeUnit;
    if (room > this.block.length - this.end) {
      this.block = Buffer.allocUnsafeSlow(Math.max(blockBytes, room));
      this.end = 0;
    }
    const start = this.end;
    this.end += this.block.write(text, start);
    this.sink.write(this.block.subarray(start, this.end));
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

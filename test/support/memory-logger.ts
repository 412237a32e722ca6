import { Writable } from "node:stream";
import { pino, type Logger } from "pino";

/** A parsed pino log line. */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger writing to memory, so tests stay quiet and can assert on what was logged. */
export interface MemoryLogger {
  readonly logger: Logger;
  readonly lines: LogLine[];
}

/** Creates a logger at `level` (default debug) whose lines are kept in `lines`. */
export function memoryLogger(level = "debug"): MemoryLogger {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) {
        if (line.trim() !== "") lines.push(JSON.parse(line) as LogLine);
      }
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}

import type { ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import type { Readable } from "node:stream";

/** Calls `onLine` with every JSON value a child prints, one per line, in order. */
export function readJsonLines(stream: Readable, onLine: (value: unknown) => void): void {
  let buffered = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf("\n"); end >= 0; end = buffered.indexOf("\n")) {
      const line = buffered.slice(0, end).trim();
      buffered = buffered.slice(end + 1);
      if (line !== "") onLine(JSON.parse(line));
    }
  });
}

/**
 * A child that answers line-delimited JSON: `next()` resolves with the next value it prints,
 * in the order asked, or rejects when it exits first.
 */
export function jsonLineQueue(stream: Readable, exited: Promise<unknown>, describe: () => string) {
  const values: unknown[] = [];
  const waiting: { resolve: (value: unknown) => void; reject: (error: Error) => void }[] = [];
  let gone = false;
  readJsonLines(stream, (value) => {
    const next = waiting.shift();
    if (next) next.resolve(value);
    else values.push(value);
  });
  void exited.then(() => {
    gone = true;
    for (const next of waiting.splice(0)) next.reject(new Error(`exited: ${describe()}`));
  });
  return {
    next(): Promise<unknown> {
      if (values.length > 0) return Promise.resolve(values.shift());
      if (gone) return Promise.reject(new Error(`exited: ${describe()}`));
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
  };
}

/**
 * Keeps the event loop alive while a child the benchmark talks to runs (test/support starts
 * children unreferenced, so an awaited answer would otherwise let Node exit).
 */
export function keepAlive(child: ChildProcess): void {
  child.ref();
  (child.stdout as Socket | null)?.ref();
}

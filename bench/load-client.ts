import { once } from "node:events";
import { startProcess } from "../test/support/child-process.ts";
import { jsonLineQueue, keepAlive } from "./json-lines.ts";

/** Options of {@link startLoadClient}. */
export interface LoadClientOptions {
  /** Port of the xDS server on 127.0.0.1. */
  xdsPort: number;
  streams: number;
  /** Assignment names every stream subscribes to. */
  resources?: string[];
  /** Or names made from a pattern, `svc-%d` numbered from 0. */
  resourcePattern?: { pattern: string; count: number };
  /** Endpoints counted: all (default), or only those whose health status lets them serve. */
  count?: "all" | "healthy";
  /** Incremental xDS (DeltaAggregatedResources) instead of state of the world. */
  delta?: boolean;
}

/** One response as a stream got it: Unix time (ms), size, and the least endpoint count after it. */
export interface Arrival {
  atMs: number;
  bytes: number;
  minEndpoints: number;
}

/** Everything one stream received. */
export interface StreamRecord {
  node: string;
  arrivals: Arrival[];
  reconnects: number;
  lastError?: string;
}

/** The Go load client (bench/reference/cmd/load-client) running N ADS streams (SotW or delta). */
export interface LoadClient {
  readonly pid: number;
  /** Unix time (ms) at which all streams had been launched. */
  readonly startedAtMs: number;
  /**
   * Resolves when every stream has ≥ `endpoints` in each resource (with `exactly`, its least
   * count is `endpoints`); false on timeout.
   */
  waitAll(
    endpoints: number,
    timeoutMs: number,
    exactly?: boolean,
  ): Promise<{ ok: boolean; complete: number }>;
  /** Every response every stream received so far. */
  report(): Promise<StreamRecord[]>;
  stop(): Promise<void>;
}

/** Unix time in milliseconds with sub-millisecond precision, comparable with the client's. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Starts the load client; resolves once it has launched every stream (not once connected). */
export async function startLoadClient(
  binary: string,
  options: LoadClientOptions,
): Promise<LoadClient> {
  const args = [`-target=127.0.0.1:${options.xdsPort}`, `-streams=${options.streams}`];
  if (options.resources) args.push(`-resources=${options.resources.join(",")}`);
  if (options.resourcePattern)
    args.push(
      `-resource-pattern=${options.resourcePattern.pattern}`,
      `-resource-count=${options.resourcePattern.count}`,
    );
  if (options.count) args.push(`-count=${options.count}`);
  if (options.delta) args.push("-delta");
  const process = startProcess(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
  keepAlive(process.child);
  const lines = jsonLineQueue(process.child.stdout!, once(process.child, "exit"), process.output);
  let queue = Promise.resolve();
  const ask = <T>(command: object): Promise<T> => {
    // One command at a time: answers come back in order.
    const answer = queue.then(() => {
      process.child.stdin!.write(`${JSON.stringify(command)}\n`);
      return lines.next() as Promise<T>;
    });
    queue = answer.then(
      () => undefined,
      () => undefined,
    );
    return answer;
  };
  const started = (await lines.next()) as { startedAtUs: number };
  return {
    pid: process.child.pid ?? -1,
    startedAtMs: started.startedAtUs / 1000,
    waitAll: (endpoints, timeoutMs, exactly = false) =>
      ask({ cmd: "wait", endpoints, timeoutMs, exactly }),
    async report() {
      const answer = await ask<{ streams: RawStream[] }>({ cmd: "report" });
      return answer.streams.map((stream) => ({
        node: stream.node,
        arrivals: stream.arrivals.map(([atUs, bytes, minEndpoints]) => ({
          atMs: atUs / 1000,
          bytes,
          minEndpoints,
        })),
        reconnects: stream.reconnects,
        ...(stream.lastError ? { lastError: stream.lastError } : {}),
      }));
    },
    async stop() {
      process.child.stdin!.end();
      await process.stop();
    },
  };
}

interface RawStream {
  node: string;
  arrivals: [number, number, number][];
  reconnects: number;
  lastError?: string;
}

import cluster, { type Worker } from "node:cluster";
import { getHeapStatistics } from "node:v8";
import type { Logger } from "pino";
import type { CacheFeed, FeedInterest, FeedPeer, FeedUpdate } from "../cache/cache-feed.ts";
import type { StreamSnapshot } from "../protocol/stream-registry.ts";
import type { DiscoveryServer } from "./discovery-server.ts";

/**
 * The messages between the primary and its xDS workers (docs/architecture.md §5, "xDS workers"),
 * beside the cache feed's. They travel with Node's "advanced" serialization, so the encoded
 * resources of the feed cross as bytes.
 */
export type ToWorker<Settings> =
  | { kind: "start"; settings: Settings }
  | { kind: "feed"; update: FeedUpdate }
  /** A question, answered with a message of the same kind and id. */
  | { kind: "metrics" | "streams"; id: number }
  | { kind: "stop" };

/** Worker → primary. */
export type FromWorker =
  | { kind: "hello" }
  | { kind: "feed"; interest: FeedInterest }
  | { kind: "serving"; port: number }
  | { kind: "streams"; id: number; streams: StreamSnapshot[] }
  /** What happened for the status page's change feed; `moved`: the state changed besides. */
  | { kind: "events"; events: { kind: string; text: string }[]; moved: boolean }
  | { kind: "metrics"; id: number; metrics: object[] };

/** One worker as `/debug/state` shows it. */
export interface WorkerState {
  /** Numbered from 1 in the order they were started (a restarted worker gets a new number). */
  id: number;
  pid: number;
  serving: boolean;
  streams: number;
}

/** Options of {@link startXdsWorkers}. */
export interface XdsWorkersOptions<Settings> {
  count: number;
  /** The module a worker runs (the bridge's entry point, which sees it is a worker). */
  entry: string;
  /** What each worker is started with (its xDS server's settings). */
  settings: Settings;
  feed: CacheFeed;
  logger: Logger;
  /** A worker's events for the status page's change feed; `moved`: the state changed besides. */
  onEvents?: (events: readonly { kind: string; text: string }[], moved: boolean) => void;
}

/** The xDS port served by worker processes. */
export interface XdsWorkers extends DiscoveryServer {
  /** Why not every worker serves now; undefined when all do. */
  notServing(): string | undefined;
  /** Every worker, and every open stream of every serving worker, asked of them now. */
  state(): Promise<{ workers: WorkerState[]; streams: StreamSnapshot[] }>;
  /** Each serving worker's metrics (`registry.getMetricsAsJSON()`), for aggregation. */
  metrics(): Promise<object[][]>;
}

/**
 * The least heap limit an xDS worker runs with, in MB. Below 2 GB V8 lets the heap grow by a
 * factor under 2 between full collections instead of 4; a worker's heap is small, but every
 * response it writes makes garbage, and under the image's 1 GB budget (Dockerfile) the fan-out
 * cost 1.35–1.9 times the CPU (bench/RESULTS.md, runs 24 and 25). The primary keeps the budget:
 * it holds the catalog, which is what the budget bounds.
 */
export const WORKER_MIN_HEAP_MB = 2048;

/**
 * The flag that raises a worker's heap limit to {@link WORKER_MIN_HEAP_MB} when this process's
 * (`heapLimitBytes`, V8's `heap_size_limit`, a little over the old space's limit) is lower; none
 * when it is higher, so an operator's larger budget is kept.
 */
export function workerHeapArgs(heapLimitBytes = getHeapStatistics().heap_size_limit): string[] {
  const limitMb = heapLimitBytes / (1024 * 1024);
  return limitMb < WORKER_MIN_HEAP_MB ? [`--max-old-space-size=${WORKER_MIN_HEAP_MB}`] : [];
}

/** How long a worker has to answer a question before it is left out of the answer. */
const ANSWER_TIMEOUT_MS = 2_000;
/** Wait before starting again a worker that died before it served. */
const RESTART_DELAY_MS = 1_000;
/** How long workers have to drain their streams at shutdown before they are killed. */
const STOP_TIMEOUT_MS = 5_000;

interface Running {
  worker: Worker;
  feed: FeedPeer;
  serving: boolean;
}

/** A question to the serving workers: the workers yet to answer, and the answers so far. */
interface Question {
  pending: Set<number>;
  answers: Map<number, unknown>;
  done(): void;
}

/**
 * Forks `count` workers that serve the xDS port together (Node's cluster module shares the
 * listening socket and spreads connections over them), feeds them the cache, and forks a
 * worker again when one dies: its clients reconnect, to the others or to it. Resolves once
 * every worker serves.
 */
export async function startXdsWorkers<Settings>(
  options: XdsWorkersOptions<Settings>,
): Promise<XdsWorkers> {
  const { logger, feed } = options;
  cluster.setupPrimary({
    exec: options.entry,
    args: [],
    // The test runner's own flags would make a worker a test runner. A flag given here outranks
    // the same one in NODE_OPTIONS.
    execArgv: [...process.execArgv.filter((arg) => !arg.startsWith("--test")), ...workerHeapArgs()],
    serialization: "advanced",
  });
  const running = new Map<number, Running>();
  const questions = new Map<number, Question>();
  let nextQuestion = 1;
  let stopping = false;
  let port = 0;
  let firstServing: (() => void) | undefined;
  let failed: ((error: Error) => void) | undefined;

  const fork = (): void => {
    const worker = cluster.fork();
    const send = (message: ToWorker<Settings>): void => {
      if (worker.isConnected()) worker.send(message);
    };
    const entry: Running = {
      worker,
      feed: feed.attach((update) => send({ kind: "feed", update })),
      serving: false,
    };
    running.set(worker.id, entry);
    worker.on("message", (message: FromWorker) => {
      // The worker listens for messages once its modules are loaded: only then is it started.
      if (message.kind === "hello") send({ kind: "start", settings: options.settings });
      else if (message.kind === "feed") entry.feed.receive(message.interest);
      else if (message.kind === "events") options.onEvents?.(message.events, message.moved);
      else if (message.kind === "serving") {
        entry.serving = true;
        port = message.port;
        logger.info({ worker: worker.id, pid: worker.process.pid }, "xDS worker serving");
        if ([...running.values()].every((other) => other.serving)) firstServing?.();
      } else if (message.kind === "metrics" || message.kind === "streams") {
        const question = questions.get(message.id);
        if (question?.pending.delete(worker.id)) {
          question.answers.set(
            worker.id,
            message.kind === "metrics" ? message.metrics : message.streams,
          );
          if (question.pending.size === 0) question.done();
        }
      }
    });
    // A message sent while a dead worker's channel still looked open fails with EPIPE or
    // ECONNRESET, reported as the worker's `error` event: unheard, it would end the primary. The
    // exit that follows restarts the worker.
    worker.on("error", (error) =>
      logger.warn({ err: error, worker: worker.id }, "xDS worker's channel failed"),
    );
    worker.on("exit", (code, signal) => {
      entry.feed.detach();
      running.delete(worker.id);
      for (const question of questions.values()) {
        if (question.pending.delete(worker.id) && question.pending.size === 0) question.done();
      }
      if (stopping) return;
      if (failed) {
        failed(new Error(`xDS worker exited before serving (code ${code}, signal ${signal})`));
        return;
      }
      logger.error(
        { worker: worker.id, pid: worker.process.pid, code, signal },
        "xDS worker died; starting another (its clients reconnect)",
      );
      // One that died before it served waits a little: a worker that cannot start does not spin.
      if (entry.serving) fork();
      else setTimeout(() => stopping || fork(), RESTART_DELAY_MS).unref();
    });
  };

  /** Asks every serving worker; resolves with the answers by worker id, late ones left out. */
  const ask = (kind: "metrics" | "streams"): Promise<Map<number, unknown>> =>
    new Promise((resolve) => {
      const id = nextQuestion++;
      const serving = [...running.values()].filter((entry) => entry.serving);
      const answers = new Map<number, unknown>();
      const done = (): void => {
        clearTimeout(timer);
        questions.delete(id);
        resolve(answers);
      };
      const timer = setTimeout(done, ANSWER_TIMEOUT_MS);
      questions.set(id, {
        pending: new Set(serving.map((entry) => entry.worker.id)),
        answers,
        done,
      });
      if (serving.length === 0) return done();
      for (const { worker } of serving) {
        if (worker.isConnected()) worker.send({ kind, id } satisfies ToWorker<Settings>);
      }
    });

  await new Promise<void>((resolve, reject) => {
    firstServing = resolve;
    failed = (error) => {
      stopping = true;
      for (const { worker } of running.values()) worker.kill();
      reject(error);
    };
    for (let i = 0; i < options.count; i++) fork();
  });
  firstServing = undefined;
  failed = undefined;
  logger.info({ workers: options.count, port }, "xDS served by worker processes");

  return {
    get port() {
      return port;
    },
    notServing() {
      const serving = [...running.values()].filter((entry) => entry.serving).length;
      if (serving >= options.count) return undefined;
      return `xDS workers serving: ${serving} of ${options.count}`;
    },
    async state() {
      const answers = await ask("streams");
      const streams = new Map<number, StreamSnapshot[]>(
        [...answers].map(([id, answer]) => [id, answer as StreamSnapshot[]]),
      );
      return {
        workers: [...running.values()].map((entry) => ({
          id: entry.worker.id,
          pid: entry.worker.process.pid ?? -1,
          serving: entry.serving,
          streams: streams.get(entry.worker.id)?.length ?? 0,
        })),
        streams: [...streams.values()].flat(),
      };
    },
    metrics: async () => [...(await ask("metrics")).values()] as object[][],
    async close() {
      stopping = true;
      const exits = [...running.values()].map(
        ({ worker }) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            const timer = setTimeout(() => worker.process.kill("SIGKILL"), STOP_TIMEOUT_MS);
            worker.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            // Each worker ends its streams with status OK, like a single process does.
            if (worker.isConnected()) worker.send({ kind: "stop" } satisfies ToWorker<Settings>);
            else worker.process.kill("SIGTERM");
          }),
      );
      await Promise.all(exits);
    },
  };
}

import { COMMAND, ConfigError, parseConfig, usage } from "./config/config.ts";
import { describeConfig } from "./config/summary.ts";
import { createLogger } from "./observe/logger.ts";
import cluster from "node:cluster";
import { startBridge } from "./bridge.ts";
import type { WorkerSettings } from "./xds/server/xds-serving.ts";
import { EventFeed, type FeedEvent } from "./observe/event-feed.ts";
import { createMetrics } from "./observe/metrics.ts";
import { PipelineObserver } from "./observe/observe-pipeline.ts";
import { ConsulStatus } from "./consul/watch/consul-status.ts";
import { reportEvents, serveXdsWorker, workerSettings } from "./xds/server/xds-worker.ts";
import { bridgeVersion } from "./observe/build-info.ts";

/**
 * Longest a graceful stop may take (shim calls draining, xDS streams ending) before the process
 * exits with 1 anyway; under Docker's default 10 s between SIGTERM and SIGKILL.
 */
const SHUTDOWN_TIMEOUT_MS = 8_000;

/** The composition root's entry point: `npm start -- [flags]`. */
async function main(): Promise<void> {
  // An xDS worker forked by the primary (--xds-workers): its settings come from the primary.
  if (cluster.isWorker) return runXdsWorker();
  let parsed;
  try {
    parsed = parseConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\nrun ${COMMAND} --help for the options\n`);
    process.exit(2);
  }
  if (parsed.help) {
    const columns = process.stdout.isTTY ? process.stdout.columns : undefined;
    process.stdout.write(`${"version" in parsed ? bridgeVersion() : usage(columns)}\n`);
    return;
  }
  const { logLevel, logFormat } = parsed.config;
  const logger = createLogger(logLevel, {
    format: logFormat ?? (process.stdout.isTTY ? "pretty" : "json"),
  });
  for (const warning of parsed.warnings) logger.warn(warning);
  logger.info({ config: describeConfig(parsed.config) }, "effective configuration");
  const { http } = parsed.config;
  if (!isLoopback(http.host) && http.token === undefined) {
    logger.warn(
      { host: http.host },
      "THE SHIM IS REACHABLE FROM OTHER MACHINES WITHOUT A TOKEN: anyone who reaches it can steer traffic; set --shim-token or bind --http-host 127.0.0.1",
    );
  }
  const bridge = await startBridge(parsed.config, logger);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, "second signal while stopping: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, timeoutMs: SHUTDOWN_TIMEOUT_MS }, "stopping");
    const timer = setTimeout(() => {
      logger.error(
        { timeoutMs: SHUTDOWN_TIMEOUT_MS },
        "shutdown did not finish in time: exiting anyway",
      );
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    bridge.stop().then(
      () => {
        clearTimeout(timer);
        logger.info("stopped");
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

/** How often at most a worker sends its change-feed events to the primary, in one message. */
const WORKER_EVENTS_MS = 250;
/** Events kept for the next message; the status page lists fewer than this. */
const WORKER_EVENTS_KEPT = 50;

/**
 * A worker's change feed: its events go to the primary's, which the status page reads, gathered
 * into one message at most every {@link WORKER_EVENTS_MS} (a fan-out ACKs thousands of times).
 */
class WorkerEvents extends EventFeed {
  private events: { kind: FeedEvent["kind"]; text: string }[] = [];
  private moved = false;
  private timer: NodeJS.Timeout | undefined;

  override publish(kind: FeedEvent["kind"], text: string): void {
    this.events.push({ kind, text });
    if (this.events.length > WORKER_EVENTS_KEPT) this.events.shift();
    this.schedule();
  }

  override touch(): void {
    this.moved = true;
    this.schedule();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      reportEvents(this.events, this.moved);
      this.events = [];
      this.moved = false;
    }, WORKER_EVENTS_MS);
  }
}

/** Metrics a worker has of its own: its streams' and its process's; the rest are the primary's. */
const WORKER_METRIC = /^(bridge_xds_|bridge_push_to_ack_|bridge_change_to_push_|process_|nodejs_)/;

/**
 * The whole of an xDS worker process (docs/architecture.md §5, "xDS workers"): the settings the
 * primary sends, a logger and metrics of its own, and the xDS server on the shared port.
 */
export async function runXdsWorker(): Promise<void> {
  const settings = await workerSettings<WorkerSettings>();
  const logger = createLogger(settings.logLevel, { format: settings.logFormat }).child({
    worker: cluster.worker?.id,
  });
  const metrics = createMetrics(true, bridgeVersion());
  const observer = new PipelineObserver({
    metrics,
    feed: new WorkerEvents(),
    consulStatus: new ConsulStatus({ waitSeconds: 0 }),
    logger,
  });
  await serveXdsWorker(settings.xds, {
    logger: logger.child({ component: "xds" }),
    hooks: observer.xds(),
    streamHooks: observer.streams(),
    onChange: (at, streams) => observer.changeArrived(at, streams),
    metrics: async () =>
      (await metrics.registry.getMetricsAsJSON()).filter((metric) =>
        WORKER_METRIC.test(metric.name),
      ),
  });
}

/** Whether a bind address is reachable only from this machine. */
function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

main().catch((error: unknown) => {
  // One line naming what failed; the stack only helps when it is a bug, so it goes to debug logs.
  const { code, message } = error as NodeJS.ErrnoException;
  const reason =
    code === "EADDRINUSE"
      ? `a port is already in use (${message}); choose another with --http-port or --xds-port`
      : message || String(error);
  process.stderr.write(`consul-xds-bridge failed to start: ${reason}\n`);
  process.exit(1);
});

import { ConsulStatus } from "../../src/consul/watch/consul-status.ts";
import { EventFeed } from "../../src/observe/event-feed.ts";
import { createMetrics, type BridgeMetrics } from "../../src/observe/metrics.ts";
import { PipelineObserver } from "../../src/observe/observe-pipeline.ts";
import { memoryLogger } from "./memory-logger.ts";

/**
 * A pipeline observer reporting into fresh metrics (without the process defaults), for tests of
 * what the pipeline's hooks make of events; `consulStatus` defaults to a status no test reads.
 */
export function observedMetrics(consulStatus = new ConsulStatus({ waitSeconds: 0 })): {
  observer: PipelineObserver;
  metrics: BridgeMetrics;
  feed: EventFeed;
} {
  const metrics = createMetrics(false);
  const feed = new EventFeed();
  const observer = new PipelineObserver({
    metrics,
    feed,
    consulStatus,
    logger: memoryLogger().logger,
  });
  return { observer, metrics, feed };
}

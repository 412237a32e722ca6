import { AggregatorRegistry } from "prom-client";
import type { MetricsText } from "../http/status-handler.ts";
import type { XdsWorkers } from "../xds/server/xds-workers.ts";
import type { BridgeMetrics } from "./metrics.ts";

/**
 * `/metrics` with workers: this process's metrics and every worker's, aggregated by prom-client
 * (counters and histograms summed, so they read as one bridge).
 */
export function aggregatedMetrics(metrics: BridgeMetrics, workers: XdsWorkers): MetricsText {
  const { registry } = metrics;
  return {
    contentType: registry.contentType,
    async metrics() {
      const [own, theirs] = await Promise.all([registry.getMetricsAsJSON(), workers.metrics()]);
      return AggregatorRegistry.aggregate([own, ...theirs]).metrics();
    },
  };
}

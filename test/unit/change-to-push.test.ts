import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { EndpointStore } from "../../src/model/endpoint-store.ts";
import type { BridgeMetrics } from "../../src/observe/metrics.ts";
import { epochMs } from "../../src/observe/observe-pipeline.ts";
import { CacheFeed, WHOLE_CACHE, type FeedUpdate } from "../../src/xds/cache/cache-feed.ts";
import { ResourceCache } from "../../src/xds/cache/resource-cache.ts";
import { StreamRegistry } from "../../src/xds/protocol/stream-registry.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS } from "../../src/xds/resources/cluster-load-assignment.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import { endpoint, service } from "../support/model-fixtures.ts";
import { observedMetrics } from "../support/pipeline-observer.ts";

async function changeToPush(metrics: BridgeMetrics): Promise<{ count: number; sum: number }> {
  const [metric] = (await metrics.registry.getMetricsAsJSON()).filter(
    (m) => m.name === "bridge_change_to_push_seconds",
  );
  const values = (metric as { values: { metricName?: string; value: number }[] }).values;
  const value = (name: string) => values.find((v) => v.metricName === name)?.value ?? 0;
  return {
    count: value("bridge_change_to_push_seconds_count"),
    sum: value("bridge_change_to_push_seconds_sum"),
  };
}

describe("change to push with xDS workers", () => {
  it("the primary stamps each update with the store change behind it, the same on every scope", async () => {
    const { observer: primary } = observedMetrics();
    const store = new EndpointStore();
    store.apply([service("web", endpoint("10.0.0.1"))]);
    store.markReady();
    primary.followStore(store, new StreamRegistry());
    const cache = new ResourceCache(store, loadXdsProtos(), 0, { clusterGraceMs: 0 });
    const feed = new CacheFeed(cache, () => primary.changeForWorkers());
    const updates: FeedUpdate[] = [];
    const peer = feed.attach((update) => updates.push(update));
    peer.receive({ kind: "open", scope: WHOLE_CACHE });
    peer.receive({ kind: "open", scope: "web" });
    await nextTurn();
    assert.deepEqual(
      updates.map((update) => [update.kind, update.changedAt]),
      [
        ["snapshot", undefined],
        ["snapshot", undefined],
      ],
      "a snapshot carries no change time",
    );

    updates.length = 0;
    const before = epochMs();
    store.apply([service("web", endpoint("10.0.0.1"), endpoint("10.0.0.2"))]);
    const after = epochMs();
    assert.equal(updates.length, 2, "one update per scope");
    const [first, second] = updates.map((update) => update.changedAt);
    assert.ok(first !== undefined && first >= before && first <= after, `stamped ${first}`);
    assert.equal(second, first, "both scopes' updates carry the same change");

    await nextTurn();
    assert.equal(
      primary.changeForWorkers(),
      undefined,
      "a change is stamped on one turn's updates",
    );
    const later = epochMs();
    store.apply([service("web", endpoint("10.0.0.3"))]);
    assert.ok((updates.at(-1)?.changedAt ?? 0) >= later, "the next change is stamped anew");
  });

  it("a worker times the stamped change to its first EDS response, only with streams", async () => {
    const { observer: worker, metrics } = observedMetrics();
    const hooks = worker.xds();
    worker.changeArrived(epochMs() - 5, 0);
    hooks.onResponse?.(EDS, 1, "sotw");
    assert.equal((await changeToPush(metrics)).count, 0, "no stream: nothing timed");

    worker.changeArrived(epochMs() - 5, 3);
    worker.changeArrived(epochMs(), 3);
    hooks.onResponse?.(EDS, 1, "sotw");
    hooks.onResponse?.(EDS, 1, "sotw");
    const timed = await changeToPush(metrics);
    assert.equal(timed.count, 1, "one observation: the first response after the first change");
    assert.ok(timed.sum >= 0.005 && timed.sum < 1, `timed from the first change: ${timed.sum} s`);
  });
});

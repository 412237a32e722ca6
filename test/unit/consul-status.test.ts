import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConsulRequestError } from "../../src/consul/client/consul-client.ts";
import { ConsulStatus, stallAfterMs } from "../../src/consul/watch/consul-status.ts";
import { observedMetrics } from "../support/pipeline-observer.ts";

const HEALTH = "/health/state/any";
const CATALOG = "/catalog/services";

/** A status on a clock the test moves; wait 10 s, so a watch stalls after 10.625 s + 15 s. */
function clocked(): { status: ConsulStatus; advance: (ms: number) => void } {
  let now = Date.parse("2024-05-01T12:00:00Z");
  const status = new ConsulStatus({ waitSeconds: 10, now: () => now });
  return { status, advance: (ms) => (now += ms) };
}

const STALL_MS = stallAfterMs(10);

describe("ConsulStatus: a watch's age and when it counts as stalled", () => {
  it("allows the wait, Consul's wait/16 jitter and a 15 s margin", () => {
    assert.equal(stallAfterMs(10), 10_625 + 15_000);
    assert.equal(stallAfterMs(300), 318_750 + 15_000);
    assert.equal(stallAfterMs(1, 2_000), 1_062.5 + 2_000);
  });

  it("ages a watch from its last good answer and calls it stalled only past the limit", () => {
    const { status, advance } = clocked();
    status.started(HEALTH, { gatesReady: true });
    status.answered(HEALTH, 42);
    advance(STALL_MS);
    const [watch] = status.snapshot().watches;
    assert.equal(watch?.ageSeconds, STALL_MS / 1000);
    assert.equal(watch?.stalled, false);
    assert.equal(watch?.index, 42);
    assert.equal(watch?.lastGoodReadAt, "2024-05-01T12:00:00.000Z");
    assert.equal(status.stalledReason(), undefined);
    advance(1);
    assert.equal(status.snapshot().watches[0]?.stalled, true);
    assert.match(status.stalledReason() ?? "", /\/health\/state\/any \(26 s\)/);
  });

  it("failed reads do not make a watch younger; a good answer does", () => {
    const { status, advance } = clocked();
    status.started(HEALTH, { gatesReady: true });
    status.answered(HEALTH, 7);
    advance(20_000);
    status.failed(HEALTH, new ConsulRequestError("socket hang up", undefined));
    advance(10_000);
    const stalled = status.snapshot().watches[0];
    assert.equal(stalled?.stalled, true);
    assert.equal(stalled?.failuresSinceGoodRead, 1);
    assert.equal(stalled?.lastError?.message, "socket hang up");
    status.answered(HEALTH, 8);
    const fresh = status.snapshot().watches[0];
    assert.equal(fresh?.ageSeconds, 0);
    assert.equal(fresh?.stalled, false);
    assert.equal(fresh?.failuresSinceGoodRead, 0);
    assert.equal(status.stalledReason(), undefined);
  });

  it("a watch that never answered ages from its start", () => {
    const { status, advance } = clocked();
    status.started(HEALTH, { gatesReady: true });
    advance(STALL_MS + 1_000);
    const [watch] = status.snapshot().watches;
    assert.equal(watch?.lastGoodReadAt, undefined);
    assert.equal(watch?.stalled, true);
    assert.ok(status.stalledReason()?.includes(HEALTH));
  });

  it("names every stalled watch that gates readiness, and only those", () => {
    const { status, advance } = clocked();
    status.started(HEALTH, { gatesReady: true });
    status.started(CATALOG, { gatesReady: true });
    status.started(`${HEALTH}?dc=dc2`, { gatesReady: false });
    advance(STALL_MS / 2);
    status.answered(CATALOG, 3);
    advance(STALL_MS / 2 + 1_000);
    const reason = status.stalledReason() ?? "";
    assert.ok(reason.includes(HEALTH), reason);
    assert.ok(!reason.includes(CATALOG), reason);
    assert.ok(!reason.includes("dc=dc2"), reason);
    const remote = status.snapshot().watches.find((w) => w.path.endsWith("dc=dc2"));
    assert.equal(remote?.stalled, true, "another datacenter's stall still shows");
  });

  it("reports each watch's age for the gauge", () => {
    const { status, advance } = clocked();
    status.started(HEALTH, { gatesReady: true });
    advance(1_500);
    status.answered(HEALTH, 1);
    advance(2_500);
    assert.deepEqual([...status.ages()], [[HEALTH, 2.5]]);
  });
});

describe("bridge_consul_watch_age_seconds", () => {
  it("is read from the watch status at scrape time", async () => {
    const { status, advance } = clocked();
    const { observer, metrics, feed } = observedMetrics(status);
    try {
      const hooks = observer.catalog();
      hooks.onWatchStart?.(HEALTH);
      hooks.onWatchAnswer?.(HEALTH, 5);
      advance(4_000);
      const gauge = /^bridge_consul_watch_age_seconds\{watch="\/health\/state\/any"\} (\S+)$/m;
      assert.equal((await metrics.registry.metrics()).match(gauge)?.[1], "4");
      advance(3_000);
      assert.equal((await metrics.registry.metrics()).match(gauge)?.[1], "7");
    } finally {
      feed.close();
    }
  });
});

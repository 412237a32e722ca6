import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type {
  ConsulCheckStatus,
  ConsulHealthCheck,
  ConsulServiceEntry,
} from "../../src/consul/client/consul-types.ts";
import {
  holdBoundMs,
  isStartUpDefault,
  StartUpHold,
  SYNC_ALLOWANCE_MS,
} from "../../src/consul/watch/start-up-hold.ts";

const GRACE_MS = 30_000;

/** A TCP check of instance `id` on node `n1`, as Consul 1.8.7 reports it. */
function check(
  id: string,
  status: ConsulCheckStatus,
  output: string,
  extra: Partial<ConsulHealthCheck> = {},
): ConsulHealthCheck {
  return {
    Node: "n1",
    CheckID: `service:${id}`,
    Status: status,
    Output: output,
    ServiceID: id,
    ServiceName: "web",
    Type: "tcp",
    Definition: {},
    ...extra,
  };
}

const ran = (id: string, status: ConsulCheckStatus = "passing"): ConsulHealthCheck =>
  check(id, status, status === "passing" ? "TCP connect: Success" : "connection refused");
const notRunYet = (id: string): ConsulHealthCheck => check(id, "critical", "");

function entry(id: string, ...checks: ConsulHealthCheck[]): ConsulServiceEntry {
  return {
    Node: { Node: "n1", Address: "127.0.0.1" },
    Service: { ID: id, Service: "web", Address: "127.0.0.1", Port: 8000 },
    Checks: checks,
  };
}

/** A hold on a clock the test moves. */
function hold(graceMs = GRACE_MS) {
  const clock = { now: 1_000 };
  const subject = new StartUpHold({ graceMs, now: () => clock.now });
  const statuses = (...entries: ConsulServiceEntry[]) => {
    const result = subject.apply("web", entries);
    return {
      result,
      shown: result.entries.map((e) => e.Checks.map((c) => c.Status).join(",")),
    };
  };
  return { clock, subject, statuses };
}

describe("isStartUpDefault", () => {
  it("is a critical check with empty output, of a kind an agent resets on restart", () => {
    assert.equal(isStartUpDefault(notRunYet("a")), true);
    assert.equal(isStartUpDefault(check("a", "critical", "", { Type: "http" })), true);
    assert.equal(isStartUpDefault(check("a", "critical", "", { Type: undefined })), true);
  });

  it("is not a check that ran, passed or failed", () => {
    assert.equal(isStartUpDefault(ran("a", "critical")), false);
    assert.equal(isStartUpDefault(check("a", "passing", "")), false);
    assert.equal(isStartUpDefault(check("a", "warning", "")), false);
  });

  it("is not a TTL check, serfHealth or maintenance, nor a check without output field", () => {
    assert.equal(isStartUpDefault(check("a", "critical", "", { Type: "ttl" })), false);
    assert.equal(isStartUpDefault(check("a", "critical", "", { Type: "" })), false);
    assert.equal(
      isStartUpDefault(check("a", "critical", "", { CheckID: "serfHealth", Type: undefined })),
      false,
    );
    assert.equal(
      isStartUpDefault(
        check("a", "critical", "", { CheckID: "_service_maintenance:a", Type: undefined }),
      ),
      false,
    );
    const noOutput = notRunYet("a");
    delete noOutput.Output;
    assert.equal(isStartUpDefault(noOutput), false);
  });
});

describe("holdBoundMs", () => {
  it("uses the grace when Consul does not report the interval (Consul 1.8 agent checks)", () => {
    assert.equal(holdBoundMs(notRunYet("a"), GRACE_MS), GRACE_MS);
  });

  it("uses interval + timeout + the sync allowance when the definition has them", () => {
    const withDefinition = check("a", "critical", "", {
      Definition: { Interval: "5s", Timeout: "2s" },
    });
    assert.equal(holdBoundMs(withDefinition, GRACE_MS), 7_000 + SYNC_ALLOWANCE_MS);
    const noTimeout = check("a", "critical", "", { Definition: { Interval: "1m" } });
    assert.equal(holdBoundMs(noTimeout, GRACE_MS), 70_000 + SYNC_ALLOWANCE_MS);
  });
});

describe("StartUpHold", () => {
  it("shows a previously passing check with its last status while it has not run", () => {
    const { clock, statuses } = hold();
    assert.deepEqual(statuses(entry("a", ran("a")), entry("b", ran("b"))).shown, [
      "passing",
      "passing",
    ]);
    clock.now += 5_000;
    const { shown, result } = statuses(entry("a", notRunYet("a")), entry("b", ran("b")));
    assert.deepEqual(shown, ["passing", "passing"]);
    assert.equal(result.held.length, 1);
    assert.equal(result.held[0]?.started, true);
    assert.equal(result.recheckInMs, GRACE_MS);
  });

  it("lets the check's first real result through: passing, or a failure with output", () => {
    const { clock, statuses } = hold();
    statuses(entry("a", ran("a")), entry("b", ran("b")));
    statuses(entry("a", notRunYet("a")), entry("b", notRunYet("b")));
    clock.now += 2_000;
    const { shown, result } = statuses(entry("a", ran("a")), entry("b", ran("b", "critical")));
    assert.deepEqual(shown, ["passing", "critical"]);
    assert.deepEqual(result.held, []);
    assert.equal(result.recheckInMs, undefined);
  });

  it("passes critical on once the check had its chance to run and still shows no result", () => {
    const { clock, statuses } = hold();
    statuses(entry("a", ran("a")));
    statuses(entry("a", notRunYet("a")));
    clock.now += GRACE_MS - 1;
    const during = statuses(entry("a", notRunYet("a")));
    assert.deepEqual(during.shown, ["passing"], "the hold runs from the first sight");
    assert.equal(during.result.held[0]?.started, false);
    assert.equal(during.result.recheckInMs, 1);
    clock.now += 1;
    const after = statuses(entry("a", notRunYet("a")));
    assert.deepEqual(after.shown, ["critical"]);
    assert.deepEqual(after.result.released, [{ node: "n1", checkId: "service:a" }]);
    clock.now += 1_000;
    const later = statuses(entry("a", notRunYet("a")));
    assert.deepEqual(later.shown, ["critical"], "a released check is not held again");
    assert.deepEqual(later.result.released, []);
  });

  it("holds again after a later restart, once the check passed in between", () => {
    const { clock, statuses } = hold();
    statuses(entry("a", ran("a")));
    statuses(entry("a", notRunYet("a")));
    clock.now += 1_000;
    statuses(entry("a", ran("a")));
    clock.now += 60_000;
    const { shown, result } = statuses(entry("a", notRunYet("a")));
    assert.deepEqual(shown, ["passing"]);
    assert.equal(result.recheckInMs, GRACE_MS, "a new hold, with a full bound");
  });

  it("never holds a check that was critical or never seen", () => {
    const { statuses } = hold();
    assert.deepEqual(statuses(entry("a", notRunYet("a"))).shown, ["critical"]);
    statuses(entry("b", ran("b", "critical")));
    assert.deepEqual(statuses(entry("b", notRunYet("b"))).shown, ["critical"]);
  });

  it("keeps a warning check at warning", () => {
    const { statuses } = hold();
    statuses(entry("a", ran("a", "warning")));
    assert.deepEqual(statuses(entry("a", notRunYet("a"))).shown, ["warning"]);
  });

  it("uses the check's own interval and timeout when Consul reports them", () => {
    const { clock, statuses } = hold();
    const definition = { Definition: { Interval: "1s", Timeout: "500ms" } };
    statuses(entry("a", check("a", "passing", "ok", definition)));
    const held = statuses(entry("a", check("a", "critical", "", definition)));
    assert.equal(held.result.recheckInMs, 1_500 + SYNC_ALLOWANCE_MS);
    clock.now += 1_500 + SYNC_ALLOWANCE_MS;
    assert.deepEqual(statuses(entry("a", check("a", "critical", "", definition))).shown, [
      "critical",
    ]);
  });

  it("judges a node check shared by several instances once, and holds it for each", () => {
    const { statuses } = hold();
    const nodeCheck = (status: ConsulCheckStatus, output: string): ConsulHealthCheck =>
      check("", status, output, { CheckID: "disk", ServiceID: "", ServiceName: "" });
    statuses(
      entry("a", ran("a"), nodeCheck("passing", "ok")),
      entry("b", ran("b"), nodeCheck("passing", "ok")),
    );
    const { shown, result } = statuses(
      entry("a", ran("a"), nodeCheck("critical", "")),
      entry("b", ran("b"), nodeCheck("critical", "")),
    );
    assert.equal(result.held.length, 1);
    assert.deepEqual(shown, ["passing,passing", "passing,passing"]);
  });

  it("does nothing when the grace is 0", () => {
    const { statuses } = hold(0);
    statuses(entry("a", ran("a")));
    const { shown, result } = statuses(entry("a", notRunYet("a")));
    assert.deepEqual(shown, ["critical"]);
    assert.equal(result.recheckInMs, undefined);
  });

  it("forgets a service that left, and checks that left with their instance", () => {
    const { subject, statuses } = hold();
    statuses(entry("a", ran("a")), entry("b", ran("b")));
    statuses(entry("b", ran("b")));
    assert.deepEqual(statuses(entry("a", notRunYet("a"))).shown, ["critical"]);
    statuses(entry("b", ran("b")));
    subject.forget("web");
    assert.deepEqual(statuses(entry("b", notRunYet("b"))).shown, ["critical"]);
  });

  it("does not change the entries it is given", () => {
    const { statuses } = hold();
    statuses(entry("a", ran("a")));
    const given = entry("a", notRunYet("a"));
    statuses(given);
    assert.equal(given.Checks[0]?.Status, "critical");
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  diffCatalog,
  HealthAnswer,
  NonPassingChecks,
  type HealthDelta,
} from "../../src/consul/watch/change-detection.ts";
import { isStartUpDefault } from "../../src/consul/watch/start-up-hold.ts";
import { BadConsulAnswerError } from "../../src/consul/client/consul-answers.ts";
import { Rng } from "../support/seeded-rng.ts";
import type { ConsulHealthCheck, NonPassingStatus } from "../../src/consul/client/consul-types.ts";

/** A service check on `node` for instance `id` of `service`. */
function serviceCheck(
  service: string,
  id: string,
  status: ConsulHealthCheck["Status"] = "passing",
  node = "node-1",
): ConsulHealthCheck {
  return {
    Node: node,
    CheckID: `service:${id}`,
    Status: status,
    ServiceID: id,
    ServiceName: service,
  };
}

/** A node-level check (no service). */
function nodeCheck(
  node: string,
  status: ConsulHealthCheck["Status"] = "passing",
  checkId = "serfHealth",
): ConsulHealthCheck {
  return { Node: node, CheckID: checkId, Status: status, ServiceID: "", ServiceName: "" };
}

const baseline: ConsulHealthCheck[] = [
  nodeCheck("node-1"),
  nodeCheck("node-2"),
  serviceCheck("web", "web-1"),
  serviceCheck("web", "web-2", "passing", "node-2"),
  serviceCheck("api", "api-1"),
];

/** `answer` after taking `checks`, sent as Consul sends them: JSON text. */
function took(answer: HealthAnswer, checks: readonly ConsulHealthCheck[]): HealthDelta {
  return answer.take(answer.read(JSON.stringify(checks), "health/state/any"));
}

/** What changed from `before` (or from nothing) to `after`, and the answer that took them. */
function diff(before: ConsulHealthCheck[] | undefined, after: ConsulHealthCheck[]) {
  const answer = new HealthAnswer();
  if (before) took(answer, before);
  return { ...took(answer, after), answer };
}

describe("HealthAnswer", () => {
  it("reports every service and node on the first answer", () => {
    const delta = diff(undefined, baseline);
    assert.deepEqual([...delta.services].sort(), ["api", "web"]);
    assert.deepEqual([...delta.nodes].sort(), ["node-1", "node-2"]);
  });

  it("reports nothing when the same answer comes back", () => {
    const delta = diff(baseline, [...baseline].reverse());
    assert.equal(delta.services.size, 0);
    assert.equal(delta.nodes.size, 0);
  });

  it("reports the service whose check changed status, and only it", () => {
    const after = baseline.map((check) =>
      check.ServiceID === "web-2" ? { ...check, Status: "critical" as const } : check,
    );
    const delta = diff(baseline, after);
    assert.deepEqual([...delta.services], ["web"]);
    assert.equal(delta.nodes.size, 0);
  });

  it("reports a service that gained an instance", () => {
    const delta = diff(baseline, [...baseline, serviceCheck("api", "api-2", "passing", "node-2")]);
    assert.deepEqual([...delta.services], ["api"]);
  });

  it("reports a service that lost an instance", () => {
    const after = baseline.filter((check) => check.ServiceID !== "web-1");
    const delta = diff(baseline, after);
    assert.deepEqual([...delta.services], ["web"]);
  });

  it("reports a service whose last instance left", () => {
    const after = baseline.filter((check) => check.ServiceName !== "api");
    const delta = diff(baseline, after);
    assert.deepEqual([...delta.services], ["api"]);
    assert.equal(delta.answer.hasService("api"), false);
    assert.deepEqual([...delta.answer.services()].sort(), ["web"]);
  });

  it("reports a node check change as a node, not as a service", () => {
    const after = baseline.map((check) =>
      check.Node === "node-2" && check.CheckID === "serfHealth"
        ? { ...check, Status: "critical" as const }
        : check,
    );
    const delta = diff(baseline, after);
    assert.deepEqual([...delta.nodes], ["node-2"]);
    assert.equal(delta.services.size, 0);
  });

  it("reports a node put in maintenance as a node", () => {
    const delta = diff(baseline, [
      ...baseline,
      nodeCheck("node-1", "critical", "_node_maintenance"),
    ]);
    assert.deepEqual([...delta.nodes], ["node-1"]);
    assert.equal(delta.services.size, 0);
  });

  it("does not count a changed check output or index as a change", () => {
    const before = baseline.map((check) => ({ ...check, Output: "ok", ModifyIndex: 10 }));
    const after = baseline.map((check) => ({
      ...check,
      Output: "HTTP GET http://10.0.0.1/health: 200 OK, took 3ms",
      ModifyIndex: 11,
    }));
    const delta = diff(before, after);
    assert.equal(delta.services.size, 0);
    assert.equal(delta.nodes.size, 0);
  });

  it("reports a critical check leaving its agent start-up default (it ran and failed)", () => {
    const notRun = { ...serviceCheck("web", "web-1", "critical"), Output: "", Type: "tcp" };
    const failed = { ...notRun, Output: "dial tcp 10.0.0.1:80: connection refused" };
    const delta = diff([notRun], [failed]);
    assert.deepEqual([...delta.services], ["web"]);
  });

  it("keeps what it took, so the next identical answer is a no-op", () => {
    const first = diff(undefined, baseline);
    const second = took(first.answer, baseline);
    assert.equal(second.services.size + second.nodes.size, 0);
  });

  it("lists a service while some instance of it has a check there", () => {
    const answer = new HealthAnswer();
    took(answer, baseline);
    assert.deepEqual([...answer.services()].sort(), ["api", "web"]);
    took(answer, [...baseline, serviceCheck("api", "api-2", "passing", "node-2")]);
    took(
      answer,
      baseline.filter((c) => c.ServiceID !== "api-1"),
    );
    assert.equal(answer.hasService("api"), false, "its last instance's checks left");
    assert.ok(answer.hasService("web"));
    assert.equal(answer.hasService("node-1"), false, "a node-level check lists no service");
  });

  it("changes nothing when an answer is read but not taken", () => {
    const answer = new HealthAnswer();
    took(answer, baseline);
    answer.read(JSON.stringify([]), "health/state/any");
    assert.ok(answer.hasService("web"));
    assert.equal(took(answer, baseline).services.size, 0);
  });
});

describe("HealthAnswer's changed instances", () => {
  const ids = (delta: HealthDelta, service: string): string[] =>
    [...(delta.instances.get(service) ?? [])].sort();

  it("names the instance whose check changed status, and no other", () => {
    const after = baseline.map((c) =>
      c.ServiceID === "web-2" ? { ...c, Status: "critical" as const } : c,
    );
    const delta = diff(baseline, after);
    assert.deepEqual(ids(delta, "web"), ["web-2"]);
    assert.equal(delta.instances.has("api"), false);
    assert.equal(delta.nodeLevel, false);
  });

  it("names an instance added and an instance removed", () => {
    const after = [
      ...baseline.filter((c) => c.ServiceID !== "web-1"),
      serviceCheck("web", "web-3", "passing", "node-2"),
    ];
    const delta = diff(baseline, after);
    assert.deepEqual(ids(delta, "web"), ["web-1", "web-3"]);
  });

  it("names every instance of a service on the first answer", () => {
    const delta = diff(undefined, baseline);
    assert.deepEqual(ids(delta, "web"), ["web-1", "web-2"]);
    assert.equal(delta.nodeLevel, true);
  });

  it("flags a node-level change apart from the instances", () => {
    const after = baseline.map((c) =>
      c.CheckID === "serfHealth" && c.Node === "node-2" ? { ...c, Status: "critical" as const } : c,
    );
    const delta = diff(baseline, after);
    assert.equal(delta.nodeLevel, true);
    assert.deepEqual([...delta.nodes], ["node-2"]);
    assert.equal(delta.instances.size, 0);
  });
});

describe("NonPassingChecks", () => {
  const names = (delta: { instances: Map<string, Set<string>> }) =>
    [...delta.instances].map(([service, ids]) => `${service}:${[...ids].sort().join(",")}`);
  /** Hands `list` to `checks` as Consul sends it: JSON text. */
  const take = (checks: NonPassingChecks, state: NonPassingStatus, list: unknown[]) =>
    checks.update(checks.read(state, JSON.stringify(list)));

  it("is complete once both states answered; a first empty answer names nothing", () => {
    const checks = new NonPassingChecks();
    assert.deepEqual(names(take(checks, "critical", [])), []);
    assert.equal(checks.complete, false);
    take(checks, "warning", []);
    assert.equal(checks.complete, true);
  });

  it("names an instance that fails, and again when its check passes and leaves the answer", () => {
    const checks = new NonPassingChecks();
    take(checks, "critical", [serviceCheck("api", "api-1", "critical")]);
    const failed = take(checks, "critical", [
      serviceCheck("api", "api-1", "critical"),
      serviceCheck("web", "web-2", "critical", "node-2"),
    ]);
    assert.deepEqual(names(failed), ["web:web-2"]);
    const passed = take(checks, "critical", [serviceCheck("api", "api-1", "critical")]);
    assert.deepEqual(names(passed), ["web:web-2"]);
  });

  it("keeps each state's answer apart: a move from critical to warning is named by both", () => {
    const checks = new NonPassingChecks();
    take(checks, "critical", [serviceCheck("web", "web-1", "critical")]);
    take(checks, "warning", []);
    assert.deepEqual(names(take(checks, "warning", [serviceCheck("web", "web-1", "warning")])), [
      "web:web-1",
    ]);
    assert.deepEqual(names(take(checks, "critical", [])), ["web:web-1"]);
  });

  it("names a failed node (serfHealth critical) and its recovery as a node", () => {
    const checks = new NonPassingChecks();
    take(checks, "critical", []);
    const down = take(checks, "critical", [nodeCheck("node-2", "critical")]);
    assert.deepEqual([...down.nodes], ["node-2"]);
    assert.deepEqual([...take(checks, "critical", []).nodes], ["node-2"]);
  });

  it("names nothing when the same checks come back in another order or with another output", () => {
    const checks = new NonPassingChecks();
    const web = { ...serviceCheck("web", "web-1", "critical"), Output: "refused", ModifyIndex: 7 };
    const api = serviceCheck("api", "api-1", "critical");
    take(checks, "critical", [web, api]);
    const again = take(checks, "critical", [api, { ...web, Output: "timed out", ModifyIndex: 9 }]);
    assert.deepEqual(names(again), []);
    assert.equal(again.nodeLevel, false);
  });

  it("names an instance once however many of its checks change, and only it", () => {
    const checks = new NonPassingChecks();
    const second = { ...serviceCheck("web", "web-1", "critical"), CheckID: "web-1-disk" };
    take(checks, "critical", [serviceCheck("api", "api-1", "critical")]);
    const failed = take(checks, "critical", [
      serviceCheck("api", "api-1", "critical"),
      serviceCheck("web", "web-1", "critical"),
      second,
    ]);
    assert.deepEqual(names(failed), ["web:web-1"]);
    // One of its two checks recovers: the instance's checks differ, so it is named again.
    const eased = take(checks, "critical", [serviceCheck("api", "api-1", "critical"), second]);
    assert.deepEqual(names(eased), ["web:web-1"]);
  });

  it("refuses a bad answer whole and keeps comparing with the last good one", () => {
    const checks = new NonPassingChecks();
    take(checks, "critical", [serviceCheck("api", "api-1", "critical")]);
    const bad = [
      '[{"Node":"node-1","CheckID":"c","Status":"critical"},{"Node":',
      '[{"Node":"node-1","Status":"critical"}]',
      '[{"Node":"node-1","CheckID":"c","Status":"critical"} {"Node":"n"}]',
      '[{"Node":"node-1","CheckID":"c","Status":"critical",}]',
      '{"Node":"node-1"}',
    ];
    for (const text of bad) {
      assert.throws(
        () => checks.read("critical", text),
        (error: unknown) =>
          error instanceof BadConsulAnswerError && /health\/state/.test(error.message),
        text,
      );
    }
    const next = take(checks, "critical", [
      serviceCheck("api", "api-1", "critical"),
      serviceCheck("web", "web-1", "critical"),
    ]);
    assert.deepEqual(names(next), ["web:web-1"]);
  });

  it("tells a node's checks from its instances', and a check leaving its start-up default", () => {
    const checks = new NonPassingChecks();
    const notRun = { ...serviceCheck("web", "web-1", "critical"), Type: "http", Output: "" };
    take(checks, "critical", [notRun]);
    const failed = take(checks, "critical", [{ ...notRun, Output: "connection refused" }]);
    assert.deepEqual(names(failed), ["web:web-1"]);
    const down = take(checks, "critical", [
      { ...notRun, Output: "connection refused" },
      nodeCheck("node-1", "critical"),
    ]);
    assert.deepEqual(names(down), []);
    assert.deepEqual([...down.nodes], ["node-1"]);
    assert.equal(down.nodeLevel, true);
  });
});

/**
 * The reference the random test holds the text-reading comparison to: every instance's and
 * node's checks parsed whole, as one sorted string each, compared key by key.
 */
function wholeFingerprints(checks: readonly ConsulHealthCheck[]): Map<string, string> {
  const lines = new Map<string, string[]>();
  for (const check of checks) {
    const key = check.ServiceName
      ? `${check.ServiceName}/${check.ServiceID}`
      : `node ${check.Node}`;
    const status = isStartUpDefault(check) ? "not run yet" : check.Status;
    lines.set(key, [
      ...(lines.get(key) ?? []),
      `${check.Node} ${check.ServiceID} ${check.CheckID} ${status}`,
    ]);
  }
  return new Map([...lines].map(([key, list]) => [key, list.sort().join("\n")]));
}

/** The keys whose fingerprint differs between two {@link wholeFingerprints}. */
function wholeComparison(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...new Set([...before.keys(), ...after.keys()])].filter(
    (key) => before.get(key) !== after.get(key),
  );
}

describe("NonPassingChecks against a whole comparison", () => {
  /** The instances and nodes a delta names, as sorted strings. */
  const named = (delta: { instances: Map<string, Set<string>>; nodes: Set<string> }) => [
    ...[...delta.instances].flatMap(([service, ids]) => [...ids].map((id) => `${service}/${id}`)),
    ...[...delta.nodes].map((node) => `node ${node}`),
  ];

  it("names exactly what a comparison of the parsed answers names, over random answers", () => {
    const random = new Rng(7);
    const checks = new NonPassingChecks();
    let before = wholeFingerprints([]);
    // A small world, so that checks come back, change output, share instances and nodes.
    const pool: ConsulHealthCheck[] = [];
    for (let n = 0; n < 3; n++) {
      pool.push(nodeCheck(`node-${n}`, "critical"));
      for (let i = 0; i < 4; i++) {
        const id = `web-${i}`; // the same ServiceID on every node
        pool.push({ ...serviceCheck("web", id, "critical", `node-${n}`), Type: "http" });
        pool.push({ ...serviceCheck("web", id, "critical", `node-${n}`), CheckID: `${id}-disk` });
        pool.push(serviceCheck(`api-${i}`, `api-${i}-${n}`, "critical", `node-${n}`));
      }
    }
    let namedInAll = 0;
    for (let step = 0; step < 500; step++) {
      const answer = pool
        .filter(() => random.chance(0.3))
        .map((check) => ({
          ...check,
          // An empty output (a check in its start-up default) or another one, by chance.
          Output: random.pick(["", "refused", "timed out"]),
          ModifyIndex: random.int(5),
        }));
      if (random.chance(0.5)) answer.reverse();
      const after = wholeFingerprints(answer);
      const expected = wholeComparison(before, after);
      before = after;
      const actual = take(checks, "critical", answer);
      assert.deepEqual(named(actual).sort(), expected.sort(), `step ${step}`);
      const nodeLevel = expected.some((key) => key.startsWith("node "));
      assert.equal(actual.nodeLevel, nodeLevel, `step ${step}`);
      namedInAll += named(actual).length;
    }
    assert.ok(namedInAll > 1_000, `only ${namedInAll} named over 500 answers`);
  });

  /** Hands `list` to `checks` as Consul sends it: JSON text. */
  const take = (checks: NonPassingChecks, state: NonPassingStatus, list: unknown[]) =>
    checks.update(checks.read(state, JSON.stringify(list)));
});

describe("diffCatalog", () => {
  it("reports added, removed and retagged services separately", () => {
    const delta = diffCatalog(
      { web: ["v1"], api: [], old: ["x"] },
      { web: ["v2"], api: [], fresh: ["y"] },
    );
    assert.deepEqual([...delta.added], ["fresh"]);
    assert.deepEqual([...delta.removed], ["old"]);
    assert.deepEqual([...delta.retagged], ["web"]);
  });

  it("ignores the order of tags", () => {
    const delta = diffCatalog({ web: ["a", "b", "c"] }, { web: ["c", "a", "b"] });
    assert.equal(delta.added.size + delta.removed.size + delta.retagged.size, 0);
  });

  it("reports a tag added to a service as retagged", () => {
    const delta = diffCatalog({ web: ["a"] }, { web: ["a", "canary"] });
    assert.deepEqual([...delta.retagged], ["web"]);
  });

  it("treats null tags like no tags", () => {
    const before = { web: null } as unknown as Record<string, string[]>;
    const delta = diffCatalog(before, { web: [] });
    assert.equal(delta.retagged.size, 0);
  });

  it("reports nothing for identical catalogs", () => {
    const catalog = { consul: [], web: ["v1"] };
    const delta = diffCatalog(catalog, { ...catalog });
    assert.equal(delta.added.size + delta.removed.size + delta.retagged.size, 0);
  });
});

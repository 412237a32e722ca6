import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  parseServiceSummaries,
  ServiceSummaryWatch,
  summaryOf,
} from "../../src/consul/watch/service-summaries.ts";

const entry = (name: string, count: number, nodes: string[] | null) => ({
  Name: name,
  InstanceCount: count,
  Nodes: nodes,
  Tags: null,
  ChecksPassing: 0,
});

describe("service summaries", () => {
  it("keys a service by its instance count and the set of its nodes", () => {
    const summaries = parseServiceSummaries([
      entry("web", 2, ["n2", "n1"]),
      entry("api", 2, ["n1", "n1"]),
      entry("none", 0, null),
    ]);
    assert.equal(summaries.get("web"), summaryOf(2, ["n1", "n2"]), "order does not matter");
    assert.equal(summaries.get("api"), summaryOf(2, ["n1"]), "two instances on one node");
    assert.notEqual(summaries.get("api"), summaryOf(1, ["n1"]));
    assert.equal(summaries.get("none"), summaryOf(0, []));
  });

  it("refuses an answer of another shape", () => {
    assert.throws(() => parseServiceSummaries({}), /not a list/);
    assert.throws(() => parseServiceSummaries([{ Name: "web" }]), /InstanceCount/);
    assert.throws(() => parseServiceSummaries([entry("web", 1, [1 as unknown as string])]));
  });
});

describe("ServiceSummaryWatch", () => {
  /** A watch over scripted answers; `unavailable` collects what it was told. */
  const watchOf = (answers: ({ status: number; body: unknown } | Error)[]) => {
    const unavailable: string[] = [];
    let reads = 0;
    const watch = new ServiceSummaryWatch({
      read: () => {
        reads += 1;
        const next = answers.shift();
        if (!next) throw new Error("no more answers");
        return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
      },
      onUnavailable: (reason) => unavailable.push(reason),
    });
    return { watch, unavailable, reads: () => reads };
  };
  const ok = (...entries: ReturnType<typeof entry>[]) => ({ status: 200, body: entries });
  /** What the bridge's last reads hold: a and b on one node each, c never read. */
  const known = (name: string) =>
    ({ a: summaryOf(1, ["n1"]), b: summaryOf(1, ["n2"]) })[name as "a" | "b"];

  it("names the suspects whose instances differ from the bridge's last read of them", async () => {
    const { watch } = watchOf([
      ok(entry("a", 2, ["n1", "n4"]), entry("b", 1, ["n2"]), entry("x", 5, ["n9"])),
      ok(entry("a", 1, ["n1"]), entry("b", 1, ["n2"]), entry("c", 1, ["n3"])),
      ok(entry("a", 1, ["n1"]), entry("b", 1, ["n2"])),
    ]);
    assert.deepEqual(await watch.moved(["a", "b"], known), ["a"], "x changed, but is no suspect");
    assert.deepEqual(await watch.moved(["a", "b", "c"], known), ["c"], "never read: read it");
    assert.equal(await watch.moved(["a", "b"], known), undefined, "none differs: probe them all");
  });

  it("cannot tell after a failed call; a refused endpoint is not asked again", async () => {
    const { watch, unavailable, reads } = watchOf([
      new Error("socket hang up"),
      { status: 500, body: "rpc error" },
      ok(entry("a", 2, ["n1", "n2"]), entry("b", 1, ["n2"])),
      { status: 404, body: "Not Found" },
    ]);
    assert.equal(await watch.moved(["a", "b"], known), undefined, "no answer");
    assert.equal(await watch.moved(["a", "b"], known), undefined, "a 500 is not a refusal");
    assert.deepEqual(await watch.moved(["a", "b"], known), ["a"]);
    assert.deepEqual(unavailable, []);
    assert.equal(await watch.moved(["a", "b"], known), undefined, "refused");
    assert.equal(await watch.moved(["a", "b"], known), undefined);
    assert.equal(reads(), 4, "not asked again after the refusal");
    assert.deepEqual(unavailable, ["answered 404"]);
  });
});

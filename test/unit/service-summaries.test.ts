import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ServiceSummaryWatch,
  SummaryAnswers,
  summaryOf,
} from "../../src/consul/watch/service-summaries.ts";

/** An answer's summaries, read as Consul sends it: JSON text. */
const parse = (body: unknown) => new SummaryAnswers().read(JSON.stringify(body));

const entry = (name: string, count: number, nodes: string[] | null) => ({
  Name: name,
  InstanceCount: count,
  Nodes: nodes,
  Tags: null,
  ChecksPassing: 0,
});

describe("service summaries", () => {
  it("keys a service by its instance count and the set of its nodes", () => {
    const summaries = parse([
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
    assert.throws(() => parse({}), /internal\/ui\/services/);
    assert.throws(() => parse([{ Name: "web" }]), /InstanceCount/);
    assert.throws(() => parse([entry("web", 1, [1 as unknown as string])]));
    assert.throws(() => new SummaryAnswers().read('[{"Name": "web",}]'), /not JSON/);
  });

  it("parses only the entries whose text changed, and keeps the last good answer after a bad one", (t) => {
    const answers = new SummaryAnswers();
    const web = JSON.stringify(entry("web", 2, ["n1", "n2"]));
    const api = JSON.stringify(entry("api", 1, ["n1"]));
    const parsed = t.mock.method(JSON, "parse");
    answers.read(`[${web},${api}]`);
    assert.equal(parsed.mock.callCount(), 2, "the first answer: every entry");
    const moved = JSON.stringify(entry("api", 2, ["n1", "n3"]));
    const next = answers.read(`[${web},${moved}]`);
    assert.equal(parsed.mock.callCount(), 3, "the next one: only the entry that changed");
    assert.equal(next.get("web"), summaryOf(2, ["n1", "n2"]));
    assert.equal(next.get("api"), summaryOf(2, ["n1", "n3"]));
    assert.throws(() => answers.read(`[${web},{"Name":"api"}]`), /InstanceCount/);
    const again = answers.read(`[${web},${moved}]`);
    assert.equal(parsed.mock.callCount(), 4, "after a bad answer the last good one is kept");
    assert.equal(again.get("api"), summaryOf(2, ["n1", "n3"]));
    assert.deepEqual([...answers.read(`[${web}]`).keys()], ["web"], "a service that left is gone");
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
  const ok = (...entries: ReturnType<typeof entry>[]) => ({
    status: 200,
    body: JSON.stringify(entries),
  });
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

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CatalogDoubt } from "../../src/consul/watch/catalog-doubt.ts";
import { waitFor } from "../support/wait-for.ts";

const COMPARISON_MS = 20;

type Doubt = { summarize: readonly string[]; probe: readonly string[] };

/**
 * A doubt over services a, b, c whose narrowing answers `moved` and records what it was asked; a
 * comparison of summaries takes {@link COMPARISON_MS}.
 */
function doubtOf(moved: string[], fullResyncIntervalMs = 60_000) {
  const asked: Doubt[] = [];
  const marked = new Set<string>();
  let pumps = 0;
  let release = (): void => undefined;
  let held: Promise<void> | undefined;
  const doubt = new CatalogDoubt({
    moved: {
      among: async (question) => {
        asked.push(question);
        if (question.summarize.length > 0) await sleep(COMPARISON_MS);
        await held;
        return moved;
      },
    },
    catalog: () => ({ a: [], b: [], c: [] }),
    marked: (name) => marked.has(name),
    mark: (name) => marked.add(name),
    pump: () => (pumps += 1),
    fullResyncIntervalMs,
  });
  const hold = () => (held = new Promise((resolve) => (release = resolve)));
  return { doubt, asked, marked, pumps: () => pumps, hold, release: () => release() };
}

describe("CatalogDoubt", () => {
  it("compares every unmarked service's summary after a catalog move and marks what moved", async () => {
    const { doubt, asked, marked, pumps } = doubtOf(["b"]);
    marked.add("a");
    doubt.catalogMoved(true, []);
    assert.equal(doubt.ready, true);
    doubt.narrow();
    assert.equal(doubt.ready, false, "one narrowing at a time");
    await sleep(COMPARISON_MS + 5);
    assert.deepEqual(asked, [{ summarize: ["b", "c"], probe: [] }]);
    assert.deepEqual([...marked].sort(), ["a", "b"]);
    assert.equal(pumps(), 1, "a batch is asked for once it is done");
    assert.equal(doubt.ready, false, "nothing left in doubt");
  });

  it("spaces comparisons by twice what one took; suspects wait for a comparison that is due", async () => {
    const { doubt, asked } = doubtOf([]);
    doubt.catalogMoved(true, []);
    doubt.narrow();
    await sleep(COMPARISON_MS + 5);
    doubt.catalogMoved(false, ["c"]);
    assert.equal(doubt.ready, false, "the next comparison is not due yet; c waits for it");
    await sleep(3 * COMPARISON_MS);
    assert.equal(doubt.ready, true);
    doubt.narrow();
    await sleep(0);
    assert.deepEqual(asked[1], { summarize: ["a", "b", "c"], probe: ["c"] });
    await doubt.stop();
  });

  it("does not start a second narrowing while one runs", async () => {
    const { doubt, asked, hold, release } = doubtOf([]);
    hold();
    doubt.catalogMoved(true, []);
    doubt.narrow();
    doubt.catalogMoved(false, ["a"]);
    doubt.narrow();
    await sleep(0);
    assert.equal(asked.length, 1);
    release();
    await sleep(COMPARISON_MS + 5);
    assert.equal(doubt.ready, false, "a's summary comparison is not due yet");
    await doubt.stop();
  });

  it("sweeps every unmarked service's index an interval after a move neither the diff nor the comparison explained", async () => {
    const { doubt, asked, marked } = doubtOf([], 30);
    marked.add("a");
    doubt.catalogMoved(false, []);
    doubt.narrow();
    await sleep(60);
    assert.deepEqual(asked, [
      { summarize: ["b", "c"], probe: [] },
      { summarize: [], probe: ["b", "c"] },
    ]);
    await doubt.stop();
  });

  it("sweeps only six intervals later when the comparison named what moved (registrations churning)", async () => {
    const { doubt, asked, marked } = doubtOf(["b"], 30);
    doubt.catalogMoved(false, []);
    doubt.narrow();
    await sleep(90);
    assert.deepEqual(asked, [{ summarize: ["a", "b", "c"], probe: [] }], "no sweep yet");
    assert.ok(marked.has("b"));
    await waitFor(() => asked.length > 1, {
      timeoutMs: 2_000,
      intervalMs: 5,
      description: "a sweep",
    });
    assert.deepEqual(asked[1], { summarize: [], probe: ["a", "c"] }, "the later sweep");
    await doubt.stop();
  });

  it("sweeps nothing after moves the catalog's diff explained", async () => {
    const { doubt, asked } = doubtOf([], 10);
    doubt.catalogMoved(true, []);
    doubt.narrow();
    await sleep(50);
    assert.deepEqual(asked, [{ summarize: ["a", "b", "c"], probe: [] }]);
    await doubt.stop();
  });

  it("clears what is in doubt when everything is re-read", () => {
    const { doubt } = doubtOf([]);
    doubt.catalogMoved(false, ["a"]);
    doubt.clear();
    assert.equal(doubt.ready, false);
  });
});

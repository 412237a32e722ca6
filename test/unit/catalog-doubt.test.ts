import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CatalogDoubt } from "../../src/consul/watch/catalog-doubt.ts";

type Doubt = { summarize: readonly string[]; probe: readonly string[]; sweeping: boolean };

/** A doubt over services a, b, c whose narrowing answers `moved` and records what it was asked. */
function doubtOf(
  moved: string[],
  intervals = { summariesIntervalMs: 50, fullResyncIntervalMs: 60_000 },
) {
  const asked: Doubt[] = [];
  const marked = new Set<string>();
  let pumps = 0;
  let release = (): void => undefined;
  let held: Promise<void> | undefined;
  const doubt = new CatalogDoubt({
    moved: {
      among: async (question) => {
        asked.push(question);
        await held;
        return moved;
      },
    },
    catalog: () => ({ a: [], b: [], c: [] }),
    marked: (name) => marked.has(name),
    mark: (name) => marked.add(name),
    pump: () => (pumps += 1),
    ...intervals,
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
    await sleep(0);
    assert.deepEqual(asked, [{ summarize: ["b", "c"], probe: [], sweeping: false }]);
    assert.deepEqual([...marked].sort(), ["a", "b"]);
    assert.equal(pumps(), 1, "a batch is asked for once it is done");
    assert.equal(doubt.ready, false, "nothing left in doubt");
  });

  it("compares summaries at most once per interval; suspects wait for a comparison that is due", async () => {
    const { doubt, asked } = doubtOf([]);
    doubt.catalogMoved(true, []);
    doubt.narrow();
    await sleep(0);
    doubt.catalogMoved(false, ["c"]);
    assert.equal(doubt.ready, false, "the next comparison is not due yet; c waits for it");
    await sleep(80);
    assert.equal(doubt.ready, true);
    doubt.narrow();
    await sleep(0);
    assert.deepEqual(asked[1], { summarize: ["a", "b", "c"], probe: ["c"], sweeping: false });
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
    await sleep(0);
    assert.equal(doubt.ready, false, "a's summary comparison is not due yet");
    await doubt.stop();
  });

  it("clears what is in doubt when everything is re-read", () => {
    const { doubt } = doubtOf([]);
    doubt.catalogMoved(false, ["a"]);
    doubt.clear();
    assert.equal(doubt.ready, false);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ServiceIndexes } from "../../src/consul/watch/service-indexes.ts";

describe("ServiceIndexes", () => {
  const probeWith =
    (indexes: Record<string, number>) =>
    (name: string): Promise<number> =>
      name in indexes ? Promise.resolve(indexes[name]!) : Promise.reject(new Error("refused"));

  it("names only the services whose index moved since their last read", async () => {
    const seen = new ServiceIndexes();
    seen.record("a", 10);
    seen.record("b", 11);
    seen.record("c", 12);
    const moved = await seen.moved(["a", "b", "c"], probeWith({ a: 10, b: 15, c: 12 }));
    assert.deepEqual(moved, ["b"]);
  });

  it("takes a service never read, forgotten, or whose probe failed as moved", async () => {
    const seen = new ServiceIndexes();
    seen.record("a", 10);
    seen.record("gone", 10);
    seen.forget("gone");
    seen.record("zero", 0);
    const moved = await seen.moved(
      ["a", "new", "gone", "zero"],
      probeWith({ new: 3, gone: 10, zero: 0 }),
    );
    assert.deepEqual(moved, ["a", "new", "gone", "zero"]);
  });

  it("takes an index that went backwards (a restore) as moved", async () => {
    const seen = new ServiceIndexes();
    seen.record("a", 100);
    assert.deepEqual(await seen.moved(["a"], probeWith({ a: 40 })), ["a"]);
  });
});

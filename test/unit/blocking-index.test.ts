import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nextIndex } from "../../src/consul/blocking-index.ts";

describe("nextIndex", () => {
  it("advances to the returned index when it grows", () => {
    assert.deepEqual(nextIndex(10, 42), { next: 42, reset: false });
  });

  it("keeps the index when Consul returns the same one (a timeout, not a change)", () => {
    assert.deepEqual(nextIndex(42, 42), { next: 42, reset: false });
  });

  it("resets to 0 and flags a resync when the index goes backwards", () => {
    assert.deepEqual(nextIndex(100, 7), { next: 0, reset: true });
  });

  it("clamps a returned index of 0 to 1", () => {
    assert.deepEqual(nextIndex(0, 0), { next: 1, reset: false });
  });

  it("clamps a negative returned index to 1", () => {
    assert.deepEqual(nextIndex(0, -5), { next: 1, reset: false });
  });

  it("clamps a missing (NaN) or infinite returned index to 1", () => {
    assert.deepEqual(nextIndex(0, Number.NaN), { next: 1, reset: false });
    assert.deepEqual(nextIndex(1, Number.POSITIVE_INFINITY), { next: 1, reset: false });
  });

  it("accepts the first real index after a reset", () => {
    assert.deepEqual(nextIndex(0, 7), { next: 7, reset: false });
  });

  it("never sends index=0 twice in a row, whatever Consul returns", () => {
    let index = 50;
    const sent: number[] = [];
    for (const returned of [0, 0, Number.NaN, -1, 0, 3, 0, 0]) {
      index = nextIndex(index, returned).next;
      sent.push(index);
    }
    for (let i = 1; i < sent.length; i += 1) {
      assert.ok(!(sent[i - 1] === 0 && sent[i] === 0), `index 0 sent twice: ${sent.join(",")}`);
    }
    assert.ok(sent.every((value) => value >= 0));
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  nextIndex,
  stepAnswer,
  type ReadContext,
  type SeenAnswer,
} from "../../src/consul/watch/blocking-index.ts";

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

describe("stepAnswer", () => {
  const seen = (index: number, hash: string): SeenAnswer => ({ index, hash });
  /** A blocking read at `sent`, or (sent 0) a read that answers at once. */
  const read = (sent: number, recovering = false): ReadContext => ({ sent, recovering });

  it("delivers the first answer without a resync", () => {
    const step = stepAnswer(undefined, seen(13, "a"), read(0));
    assert.equal(step.kind, "first");
    assert.equal(step.deliver, true);
    assert.equal(step.resync, false);
    assert.equal(step.next, 13);
  });

  it("delivers an answer whose index moved, even with the same body", () => {
    const step = stepAnswer(seen(13, "a"), seen(14, "a"), read(13));
    assert.deepEqual(
      { kind: step.kind, deliver: step.deliver, resync: step.resync, next: step.next },
      { kind: "moved", deliver: true, resync: false, next: 14 },
    );
  });

  it("confirms a blocking read that returned nothing new with a read that does not block", () => {
    // Consul 1.8.7 answers a query parked at 16 across a snapshot restore with 16 and the old body.
    const step = stepAnswer(seen(16, "a"), seen(16, "a"), read(16));
    assert.equal(step.kind, "unchanged");
    assert.equal(step.deliver, false);
    assert.equal(step.next, 0);
  });

  it("blocks again once the confirming read shows nothing new either", () => {
    const step = stepAnswer(seen(16, "a"), seen(16, "a"), read(0));
    assert.equal(step.kind, "unchanged");
    assert.equal(step.deliver, false);
    assert.equal(step.next, 16);
  });

  it("takes the restored, lower index the confirming read shows as a reset", () => {
    const step = stepAnswer(seen(16, "a"), seen(14, "a"), read(0));
    assert.equal(step.kind, "index-backwards");
    assert.equal(step.deliver, true);
    assert.equal(step.resync, true);
    assert.equal(step.next, 14, "the answer of a read that did not block is the current state");
  });

  it("resets to index 0 when a blocking read returns a lower index", () => {
    const step = stepAnswer(seen(16, "a"), seen(14, "a"), read(16));
    assert.equal(step.kind, "index-backwards");
    assert.deepEqual([step.next, step.seen.index], [0, 0]);
  });

  it("takes a different body at the same index as a reset", () => {
    const step = stepAnswer(seen(13, "a"), seen(13, "b"), read(13));
    assert.deepEqual(step, {
      kind: "content-changed",
      deliver: true,
      resync: true,
      next: 0,
      seen: { index: 0, hash: "b" },
    });
  });

  it("after a reset, judges the next answer by content alone", () => {
    const reset = stepAnswer(seen(13, "a"), seen(13, "b"), read(13));
    const same = stepAnswer(reset.seen, seen(10, "b"), read(0));
    assert.equal(same.kind, "unchanged", "the read after the reset is not another reset");
    assert.equal(same.next, 10);
    const changed = stepAnswer(reset.seen, seen(10, "c"), read(0));
    assert.equal(changed.kind, "moved");
    assert.equal(changed.deliver, true);
  });

  it("hands the first answer after failed reads on as a resync, even when nothing changed", () => {
    const step = stepAnswer(seen(13, "a"), seen(13, "a"), read(0, true));
    assert.equal(step.kind, "reconnected");
    assert.equal(step.deliver, true);
    assert.equal(step.resync, true);
    assert.equal(step.next, 13);
  });

  it("still names a backwards index after failed reads (a server restarted without its data)", () => {
    assert.equal(stepAnswer(seen(13, "a"), seen(3, "b"), read(0, true)).kind, "index-backwards");
  });

  it("never asks for index 0 twice in a row", () => {
    let previous: SeenAnswer | undefined = seen(20, "a");
    let next = 20;
    const sent: number[] = [];
    const answers: [number, string][] = [
      [20, "a"],
      [20, "b"],
      [0, "b"],
      [0, "c"],
      [5, "c"],
      [5, "c"],
      [2, "c"],
      [2, "d"],
    ];
    for (const [index, hash] of answers) {
      const step = stepAnswer(previous, seen(index, hash), read(next));
      next = step.next;
      sent.push(next);
      previous = step.seen;
    }
    for (let i = 1; i < sent.length; i += 1) {
      assert.ok(!(sent[i - 1] === 0 && sent[i] === 0), `index 0 sent twice: ${sent.join(",")}`);
    }
  });
});

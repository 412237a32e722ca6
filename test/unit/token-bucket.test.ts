import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TokenBucket } from "../../src/consul/watch/token-bucket.ts";

/** A clock the test moves by hand. */
function fakeClock(start = 1_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe("TokenBucket", () => {
  it("allows a burst at once, then asks to wait one token's time", () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(4, 3, clock.now);
    assert.deepEqual([bucket.tryTake(), bucket.tryTake(), bucket.tryTake()], [0, 0, 0]);
    assert.equal(bucket.tryTake(), 250);
  });

  it("refills at the configured rate", () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(4, 1, clock.now);
    assert.equal(bucket.tryTake(), 0);
    clock.advance(100);
    assert.equal(bucket.tryTake(), 150);
    clock.advance(150);
    assert.equal(bucket.tryTake(), 0);
    assert.equal(bucket.tryTake(), 250);
  });

  it("sustains the rate, not more, once the burst is spent", () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(8, 2, clock.now);
    bucket.tryTake();
    bucket.tryTake();
    let granted = 0;
    // 160 attempts, one every half token (62.5 ms), over 10 s: 80 tokens at 8 per second.
    for (let step = 0; step < 160; step += 1) {
      clock.advance(62.5);
      if (bucket.tryTake() === 0) granted += 1;
    }
    assert.equal(granted, 80);
  });

  it("never holds more than the burst after a long quiet period", () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(100, 3, clock.now);
    clock.advance(60_000);
    const waits = [1, 2, 3, 4].map(() => bucket.tryTake());
    const [first, second, third, fourth = 0] = waits;
    assert.deepEqual([first, second, third], [0, 0, 0]);
    assert.ok(fourth > 0);
  });

  it("take resolves at once while tokens remain", async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1, 2, clock.now);
    await bucket.take();
    await bucket.take();
    assert.ok(bucket.tryTake() > 0);
  });

  it("take rejects when its signal is aborted while it would wait", async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(0.001, 1, clock.now);
    bucket.tryTake();
    await assert.rejects(bucket.take(AbortSignal.abort()), { name: "AbortError" });
  });
});

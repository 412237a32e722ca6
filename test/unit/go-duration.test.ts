import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseGoDuration } from "../../src/consul/watch/go-duration.ts";

describe("parseGoDuration", () => {
  it("reads Go duration strings as milliseconds", () => {
    assert.equal(parseGoDuration("10s"), 10_000);
    assert.equal(parseGoDuration("1m30s"), 90_000);
    assert.equal(parseGoDuration("500ms"), 500);
    assert.equal(parseGoDuration("1.5s"), 1_500);
    assert.equal(parseGoDuration("1h"), 3_600_000);
    assert.equal(parseGoDuration("250us"), 0.25);
    assert.equal(parseGoDuration("0"), 0);
  });

  it("reads a number as nanoseconds", () => {
    assert.equal(parseGoDuration(5_000_000_000), 5_000);
  });

  it("returns undefined for anything else", () => {
    for (const value of [undefined, null, "", "10", "s", "10x", "10s junk", "-1s", -5, {}]) {
      assert.equal(parseGoDuration(value), undefined, JSON.stringify(value));
    }
  });
});

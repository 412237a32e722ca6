import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { minimaSlope, perMinuteMinima } from "../support/rss-trend.ts";

describe("the soak's RSS trend: per-minute minima and their least-squares slope", () => {
  test("each minute keeps its smallest sample; a minute without samples is skipped", () => {
    const samples = [
      { atMs: 0, mib: 80 },
      { atMs: 30_000, mib: 70 },
      { atMs: 59_999, mib: 90 },
      { atMs: 125_000, mib: 75 },
    ];
    assert.deepEqual(perMinuteMinima(samples), [
      { minute: 0, mib: 70 },
      { minute: 2, mib: 75 },
    ]);
  });

  test("the slope fits the minima from the warm-up minute on, in MiB per minute", () => {
    const minima = [0, 1, 2, 3, 4, 5].map((minute) => ({
      minute,
      mib: minute < 3 ? 40 + 20 * minute : 100 + 0.25 * minute + (minute % 2 ? 0.1 : -0.1),
    }));
    assert.ok(Math.abs(minimaSlope(minima, 3)! - 0.25) < 1e-9);
    assert.equal(minimaSlope(minima, 5), undefined, "one minimum has no slope");
  });
});

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { Coalescer } from "../../src/xds/cache/coalescer.ts";

/** A fake clock driven together with node:test's mocked setTimeout. */
let time = 0;
const now = (): number => time;
function advance(ms: number): void {
  time += ms;
  mock.timers.tick(ms);
}

/** A coalescer with a 50 ms window that records every emission. */
function recordingCoalescer(): { coalescer: Coalescer; emits: string[][] } {
  const emits: string[][] = [];
  const coalescer = new Coalescer(50, (names) => emits.push([...names].sort()), now);
  return { coalescer, emits };
}

describe("Coalescer", () => {
  beforeEach(() => {
    time = 1_000;
    mock.timers.enable({ apis: ["setTimeout"] });
  });
  afterEach(() => mock.timers.reset());

  it("emits the first change at once (leading edge)", () => {
    const { coalescer, emits } = recordingCoalescer();
    coalescer.push(["web"]);
    assert.deepEqual(emits, [["web"]]);
  });

  it("merges a burst within the window into one trailing emission", () => {
    const { coalescer, emits } = recordingCoalescer();
    coalescer.push(["a"]);
    for (const name of ["b", "c", "b", "d"]) {
      advance(5);
      coalescer.push([name]);
    }
    assert.deepEqual(emits, [["a"]]);
    advance(29);
    assert.deepEqual(emits, [["a"]], "nothing before the window ends");
    advance(1);
    assert.deepEqual(emits, [["a"], ["b", "c", "d"]]);
  });

  it("emits a thousand quick changes in two emissions", () => {
    const { coalescer, emits } = recordingCoalescer();
    for (let i = 0; i < 1_000; i += 1) coalescer.push([`svc-${i}`]);
    advance(50);
    assert.equal(emits.length, 2);
    assert.equal(new Set(emits.flat()).size, 1_000);
  });

  it("emits at once again after a quiet window", () => {
    const { coalescer, emits } = recordingCoalescer();
    coalescer.push(["a"]);
    advance(50);
    coalescer.push(["b"]);
    assert.deepEqual(emits, [["a"], ["b"]]);
  });

  it("keeps the trailing emission spaced a window after the previous one", () => {
    const { coalescer, emits } = recordingCoalescer();
    coalescer.push(["a"]);
    advance(10);
    coalescer.push(["b"]);
    advance(40);
    assert.deepEqual(emits, [["a"], ["b"]]);
    advance(10);
    coalescer.push(["c"]);
    assert.equal(emits.length, 2, "a change right after the trailing emit waits");
    advance(40);
    assert.deepEqual(emits, [["a"], ["b"], ["c"]]);
  });

  it("emits nothing for an empty push", () => {
    const { coalescer, emits } = recordingCoalescer();
    coalescer.push([]);
    advance(100);
    assert.deepEqual(emits, []);
  });

  it("drops the trailing emission when closed", () => {
    const { coalescer, emits } = recordingCoalescer();
    coalescer.push(["a"]);
    advance(1);
    coalescer.push(["b"]);
    coalescer.close();
    advance(100);
    assert.deepEqual(emits, [["a"]]);
  });
});

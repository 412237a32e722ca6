import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { SharedResponses, type ResponseStamp } from "../../src/xds/cache/shared-responses.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS } from "../../src/xds/resources/cluster-load-assignment.ts";
import { CLUSTER_TYPE_URL as CDS } from "../../src/xds/resources/cluster.ts";
import { WriteSlices } from "../../src/xds/protocol/write-slices.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import type { CacheChanges, StreamCache } from "../../src/xds/cache/xds-cache.ts";

/** A cache that only delivers change notices. */
function fakeCache(): { cache: StreamCache; change: (changes: CacheChanges) => void } {
  const listeners = new Set<(changes: CacheChanges) => void>();
  const cache: StreamCache = {
    ready: true,
    whenReady: async () => {},
    names: () => [],
    get: () => undefined,
    retain: () => undefined,
    release: () => undefined,
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return { cache, change: (changes) => listeners.forEach((listener) => listener(changes)) };
}

/** The envelopes of the real protos (the tests here encode their own bytes through `take`). */
const envelopes = {
  sotw: loadXdsProtos().discoveryResponse,
  delta: loadXdsProtos().deltaDiscoveryResponse,
};

function counting(): {
  encode: (stamp: ResponseStamp) => { bytes: Uint8Array; resourceCount: number };
  count: () => number;
} {
  let count = 0;
  return {
    encode: (stamp) => {
      count += 1;
      return { bytes: Buffer.from(`${stamp.version}/${stamp.nonce}`), resourceCount: 1 };
    },
    count: () => count,
  };
}

describe("SharedResponses", () => {
  it("encodes a response once and gives every stream the same bytes, version and nonce", () => {
    const { cache } = fakeCache();
    const encoded: string[] = [];
    const shared = new SharedResponses(cache, {
      envelopes,
      epoch: "e",
      onEncode: (t) => encoded.push(t),
    });
    const { encode, count } = counting();
    const first = shared.take(EDS, "web@v1", 0, encode);
    const second = shared.take(EDS, "web@v1", 0, encode);
    assert.equal(second, first);
    assert.equal(count(), 1);
    assert.deepEqual(encoded, [EDS]);
    assert.equal(first.version, `e-${first.nonce}`);
    assert.notEqual(shared.take(EDS, "web@v2", 0, encode).nonce, first.nonce);
  });

  it("never gives a stream a nonce it already sent: a response not newer than its last is made anew", () => {
    const { cache } = fakeCache();
    const shared = new SharedResponses(cache, { envelopes, epoch: "e" });
    const { encode, count } = counting();
    const x = shared.take(EDS, "X", 0, encode);
    const y = shared.take(EDS, "Y", x.serial, encode);
    // The stream had X then Y; X again (a revert) must carry a nonce it has not seen.
    const xAgain = shared.take(EDS, "X", y.serial, encode);
    assert.ok(xAgain.serial > y.serial);
    assert.notEqual(xAgain.nonce, x.nonce);
    assert.equal(count(), 3);
    // Another stream that sent nothing newer shares the new one.
    assert.equal(shared.take(EDS, "X", 0, encode), xAgain);
  });

  it("forgets the responses of a type the cache changed, and only of that type", () => {
    const { cache, change } = fakeCache();
    const shared = new SharedResponses(cache, { envelopes, epoch: "e" });
    const { encode, count } = counting();
    const eds = shared.take(EDS, "a", 0, encode);
    const cds = shared.take(CDS, "a", 0, encode);
    change(new Map([[EDS, new Set(["a"])]]));
    assert.notEqual(shared.take(EDS, "a", 0, encode), eds);
    assert.equal(shared.take(CDS, "a", 0, encode), cds);
    assert.equal(count(), 3);
  });
});

describe("SharedResponses byte budget", () => {
  /** Encodes `size` bytes, counting encodings. */
  function sized(size: number) {
    let count = 0;
    return {
      encode: () => {
        count += 1;
        return { bytes: Buffer.alloc(size), resourceCount: 1 };
      },
      count: () => count,
    };
  }

  it("keeps at most its budget of bytes per type, the least recently used going first", () => {
    const { cache } = fakeCache();
    const shared = new SharedResponses(cache, { envelopes, epoch: "e", maxBytesPerType: 10_000 });
    const { encode, count } = sized(3_000);
    const a = shared.take(EDS, "a", 0, encode);
    shared.take(EDS, "b", 0, encode);
    shared.take(EDS, "c", 0, encode);
    assert.equal(shared.take(EDS, "a", 0, encode), a, "three fit; a is now the most recent");
    shared.take(EDS, "d", 0, encode);
    assert.equal(count(), 4);
    assert.equal(shared.take(EDS, "c", 0, encode).nonce, "3", "c is still kept");
    assert.equal(shared.take(EDS, "a", 0, encode), a, "so is a");
    assert.notEqual(shared.take(EDS, "b", 0, encode).nonce, "2", "b, least recently used, went");
    assert.equal(count(), 5);
  });

  it("holds the budget however many responses pass through", () => {
    const { cache } = fakeCache();
    const shared = new SharedResponses(cache, { envelopes, epoch: "e", maxBytesPerType: 10_000 });
    const { encode, count } = sized(3_000);
    for (let i = 0; i < 1_000; i++) shared.take(EDS, `key-${i}`, 0, encode);
    for (let i = 997; i < 1_000; i++) shared.take(EDS, `key-${i}`, 0, encode);
    assert.equal(count(), 1_000, "the three most recent are kept");
    shared.take(EDS, "key-996", 0, encode);
    assert.equal(count(), 1_001, "an older one is not");
  });

  it("keeps the newest response alone when it is larger than the budget", () => {
    const { cache } = fakeCache();
    const shared = new SharedResponses(cache, { envelopes, epoch: "e", maxBytesPerType: 10_000 });
    const small = sized(1_000);
    const large = sized(50_000);
    shared.take(EDS, "small", 0, small.encode);
    const big = shared.take(EDS, "big", 0, large.encode);
    assert.equal(shared.take(EDS, "big", 0, large.encode), big);
    shared.take(EDS, "small", 0, small.encode);
    assert.equal(small.count(), 2, "the small one made room");
  });
});

describe("SharedResponses idle time", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setInterval"] }));
  afterEach(() => mock.timers.reset());

  it("drops a response nobody took for the idle time, and keeps one still taken", () => {
    const { cache } = fakeCache();
    let now = 0;
    const shared = new SharedResponses(cache, {
      envelopes,
      epoch: "e",
      idleMs: 10_000,
      now: () => now,
    });
    const { encode, count } = counting();
    const idle = shared.take(EDS, "idle", 0, encode);
    const busy = shared.take(EDS, "busy", 0, encode);
    for (now = 1_000; now <= 15_000; now += 1_000) {
      mock.timers.tick(1_000);
      shared.take(EDS, "idle-not", 0, encode);
      assert.equal(shared.take(EDS, "busy", 0, encode), busy);
    }
    assert.equal(count(), 3);
    assert.notEqual(
      shared.take(EDS, "idle", 0, encode),
      idle,
      "taken anew once idle 10 s (swept every 5 s)",
    );
    assert.equal(count(), 4);
    shared.close();
  });
});

describe("WriteSlices", () => {
  it("writes a slice per turn of the event loop, each stream once however often woken", async () => {
    const slices = new WriteSlices(2, 2);
    const written: number[] = [];
    const writers = [0, 1, 2, 3, 4].map((i) => () => written.push(i));
    for (const write of writers) slices.wake(write);
    slices.wake(writers[0]!);
    assert.deepEqual(written, [], "nothing is written synchronously");
    await nextTurn();
    assert.deepEqual(written, [0, 1]);
    await nextTurn();
    assert.deepEqual(written, [0, 1, 2, 3]);
    await nextTurn();
    assert.deepEqual(written, [0, 1, 2, 3, 4]);
    slices.wake(writers[1]!);
    await nextTurn();
    assert.deepEqual(written, [0, 1, 2, 3, 4, 1]);
  });

  it("starts each burst with the smaller first slice", async () => {
    const slices = new WriteSlices(3, 1);
    const written: number[] = [];
    const writers = [0, 1, 2, 3, 4].map((i) => () => written.push(i));
    for (const write of writers) slices.wake(write);
    await nextTurn();
    assert.deepEqual(written, [0], "the first slice of a burst");
    await nextTurn();
    assert.deepEqual(written, [0, 1, 2, 3], "then full slices");
    await nextTurn();
    assert.deepEqual(written, [0, 1, 2, 3, 4]);
    for (const write of writers.slice(0, 2)) slices.wake(write);
    await nextTurn();
    assert.deepEqual(written, [0, 1, 2, 3, 4, 0], "a quiet spell: the next burst starts small");
  });
});

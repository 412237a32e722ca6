import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { SharedResponses, type ResponseStamp } from "../../src/xds/cache/shared-responses.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS } from "../../src/xds/resources/cluster-load-assignment.ts";
import { CLUSTER_TYPE_URL as CDS } from "../../src/xds/resources/cluster.ts";
import { WriteSlices } from "../../src/xds/protocol/write-slices.ts";
import { loadXdsProtos } from "../../src/xds/resources/protos.ts";
import type { CacheChanges, XdsCache } from "../../src/xds/cache/xds-cache.ts";

/** A cache that only delivers change notices. */
function fakeCache(): { cache: XdsCache; change: (changes: CacheChanges) => void } {
  const listeners = new Set<(changes: CacheChanges) => void>();
  const cache: XdsCache = {
    ready: true,
    whenReady: async () => {},
    names: () => [],
    get: () => undefined,
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

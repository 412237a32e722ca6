import type { HostResolver } from "../../src/http/resolve-host.ts";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BoundedQueue, QueueFullError } from "../../src/consul/register/bounded-queue.ts";
import { boundLookups, HostLookupError } from "../../src/http/resolve-host.ts";

/** A task that ends when told to, so tests control when slots free up. */
function gated<T>(value: T): {
  task: () => Promise<T>;
  finish: () => void;
  started: () => boolean;
} {
  let finish = (): void => undefined;
  let started = false;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    task: async () => {
      started = true;
      await done;
      return value;
    },
    finish: () => finish(),
    started: () => started,
  };
}

describe("bounded queue", () => {
  test("runs at most `concurrency` tasks, the rest in order as slots free up", async () => {
    const queue = new BoundedQueue(2, 10);
    const tasks = [gated(1), gated(2), gated(3), gated(4)];
    const results = tasks.map((t) => queue.run(t.task));
    await Promise.resolve();
    assert.deepEqual(
      tasks.map((t) => t.started()),
      [true, true, false, false],
    );
    assert.deepEqual([queue.running, queue.waiting], [2, 2]);
    tasks[1]?.finish();
    assert.equal(await results[1], 2);
    await Promise.resolve();
    assert.deepEqual(
      tasks.map((t) => t.started()),
      [true, true, true, false],
    );
    for (const t of tasks) t.finish();
    assert.deepEqual(await Promise.all(results), [1, 2, 3, 4]);
    assert.deepEqual([queue.running, queue.waiting], [0, 0]);
  });

  test("refuses at once when the waiting line is full", async () => {
    const queue = new BoundedQueue(1, 1);
    const first = gated("a");
    const second = gated("b");
    const running = queue.run(first.task);
    const waiting = queue.run(second.task);
    await assert.rejects(
      queue.run(async () => "c"),
      (error: unknown) => {
        assert.ok(error instanceof QueueFullError);
        assert.deepEqual([error.running, error.waiting], [1, 1]);
        return true;
      },
    );
    first.finish();
    second.finish();
    assert.deepEqual(await Promise.all([running, waiting]), ["a", "b"]);
  });

  test("an urgent task goes ahead of the waiting ones", async () => {
    const queue = new BoundedQueue(1, 10);
    const blocker = gated(0);
    const order: string[] = [];
    const all = [
      queue.run(blocker.task),
      queue.run(async () => order.push("normal")),
      queue.run(async () => order.push("urgent"), { urgent: true }),
    ];
    blocker.finish();
    await Promise.all(all);
    assert.deepEqual(order, ["urgent", "normal"]);
  });

  test("an aborted waiting task leaves the line; a task that failed frees its slot", async () => {
    const queue = new BoundedQueue(1, 10);
    const blocker = gated(0);
    const running = queue.run(blocker.task);
    const abort = new AbortController();
    const waiting = queue.run(async () => assert.fail("must not start"), { signal: abort.signal });
    abort.abort(new Error("gave up"));
    await assert.rejects(waiting, /gave up/);
    assert.equal(queue.waiting, 0);
    blocker.finish();
    await running;
    await assert.rejects(
      queue.run(() => Promise.reject(new Error("boom"))),
      /boom/,
    );
    assert.equal(await queue.run(async () => "free"), "free");
  });
});

describe("bounded name lookups", () => {
  const never: HostResolver = () => new Promise(() => undefined);

  test("a lookup that outlives its time bound fails as a timeout", async () => {
    const resolve = boundLookups(never, { concurrency: 2, maxWaiting: 2, timeoutMs: 20 });
    await assert.rejects(resolve("hang.test"), (error: unknown) => {
      assert.ok(error instanceof HostLookupError);
      assert.equal(error.reason, "timeout");
      assert.equal(error.message, "the lookup of hang.test did not finish within 20 ms");
      return true;
    });
  });

  test("lookups beyond the running and waiting bounds are refused as busy at once", async () => {
    const resolve = boundLookups(never, { concurrency: 1, maxWaiting: 1, timeoutMs: 60_000 });
    void resolve("a.test").catch(() => undefined);
    void resolve("b.test").catch(() => undefined);
    await assert.rejects(resolve("c.test"), { name: "HostLookupError", reason: "busy" });
  });

  test("a stuck lookup keeps its slot after its caller gave up, so stuck lookups cannot pile up", async () => {
    let calls = 0;
    const counting: HostResolver = () => {
      calls++;
      return new Promise(() => undefined);
    };
    const resolve = boundLookups(counting, { concurrency: 1, maxWaiting: 0, timeoutMs: 10 });
    await assert.rejects(resolve("a.test"), { reason: "timeout" });
    await assert.rejects(resolve("b.test"), { reason: "busy" });
    assert.equal(calls, 1);
  });

  test("answers and resolver errors pass through", async () => {
    const answers: HostResolver = async (name) => {
      if (name === "nx.test") throw Object.assign(new Error("nope"), { code: "ENOTFOUND" });
      return ["10.0.0.1"];
    };
    const resolve = boundLookups(answers, { concurrency: 1, maxWaiting: 1, timeoutMs: 1000 });
    assert.deepEqual(await resolve("ok.test"), ["10.0.0.1"]);
    await assert.rejects(resolve("nx.test"), { code: "ENOTFOUND" });
  });
});

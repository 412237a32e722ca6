import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { startGrpcEchoBackend, type GrpcEchoBackend } from "../support/grpc-echo-backend.ts";
import { startXdsCaller, type XdsCaller } from "../support/grpc-xds-call.ts";
import { waitFor } from "../support/wait-for.ts";

const SERVICE = "greeter";

/**
 * Proxyless gRPC end to end: three gRPC backends registered natively in Consul under one name,
 * each with a TTL check, and a `@grpc/grpc-js-xds` client (its own process, one channel to
 * `xds:///greeter`) calling them continuously while Consul changes.
 */
describe("a proxyless gRPC client follows a Consul service through the bridge", () => {
  let consul: ConsulAgent;
  let bridge: BridgeProcess;
  let caller: XdsCaller;
  const backends: GrpcEchoBackend[] = [];

  /** The answers of the last `count` calls, once there are that many after `from`. */
  const lastAnswers = (from: number, count: number): string[] | false => {
    const results = caller.results().slice(from);
    if (results.length < count) return false;
    return results.slice(-count).map((result) => (result.ok ? result.answer : result.error));
  };

  /**
   * Waits until `count` calls in a row were answered only by `names`, then checks over `count`
   * more calls that every call succeeds and that no other backend is called at all.
   */
  const onlyAnswering = async (names: string[], count = 15): Promise<void> => {
    const from = caller.results().length;
    await waitFor(
      () => {
        const answers = lastAnswers(from, count);
        return answers !== false && answers.every((answer) => names.includes(answer));
      },
      { timeoutMs: 20_000, description: `only ${names.join(", ")} answering` },
    );
    const others = backends.filter((backend) => !names.includes(backend.name));
    const before = others.map((backend) => backend.calls());
    const next = caller.results().length;
    const answers = await waitFor(() => lastAnswers(next, count), {
      description: `${count} more calls`,
    });
    assert.deepEqual(new Set(answers), new Set(names), "each remaining backend answered");
    assert.deepEqual(
      others.map((backend) => backend.calls()),
      before,
      "no call reached a backend that left",
    );
  };

  before(async () => {
    consul = await startConsul();
    bridge = await startBridgeProcess({ consulAddress: consul.address });
    for (const name of ["g1", "g2", "g3"]) {
      const backend = await startGrpcEchoBackend(name);
      backends.push(backend);
      await consul.api("PUT", "/v1/agent/service/register", {
        ID: `${SERVICE}-${name}`,
        Name: SERVICE,
        Address: "127.0.0.1",
        Port: backend.port,
        Meta: { "envoy-protocol": "grpc" },
        Check: { CheckID: `${name}-ttl`, TTL: "300s", Status: "passing" },
      });
    }
    caller = startXdsCaller(bridge.xdsPort, `xds:///${SERVICE}`, 20);
  });

  after(async () => {
    await caller?.stop();
    await bridge?.stop();
    await consul?.stop();
    for (const backend of backends) backend.stop();
  });

  test("the client reaches all three backends by xds:///NAME", async () => {
    // The client process starts slowly on a loaded machine (tsx, then the xDS client).
    await waitFor(() => backends.every((backend) => backend.calls() > 0), {
      timeoutMs: 60_000,
      description: "every backend called",
    }).catch((error: unknown) => {
      throw new Error(`${String(error)}\nclient output:\n${caller.output().slice(-2000)}`, {
        cause: error,
      });
    });
    const failures = caller.results().filter((result) => !result.ok);
    assert.deepEqual(failures, [], "no call failed");
  });

  test("a deregistered backend gets no more calls", async () => {
    await consul.api("PUT", `/v1/agent/service/deregister/${SERVICE}-g3`);
    await onlyAnswering(["g1", "g2"]);
  });

  test("a backend whose check turns critical gets no calls until it passes again", async () => {
    await consul.api("PUT", "/v1/agent/check/fail/g2-ttl?note=test");
    await onlyAnswering(["g1"]);
    await consul.api("PUT", "/v1/agent/check/pass/g2-ttl");
    await onlyAnswering(["g1", "g2"]);
    const failures = caller.results().filter((result) => !result.ok);
    assert.deepEqual(failures, [], "no call failed at any point");
  });
});

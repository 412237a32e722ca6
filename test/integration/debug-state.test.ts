import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { waitFor } from "../support/wait-for.ts";
import { openXdsStream, viewMetadata } from "../support/xds-client.ts";

const CLA = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

interface State {
  version: string;
  ready: boolean;
  services: {
    name: string;
    exported: boolean;
    endpoints: { address: string; port: number; health: string }[];
  }[];
  resources: Record<string, { name: string; version: string }[]>;
  streams: {
    nodeId: string;
    service: string;
    mode: string;
    view: string;
    types: {
      typeUrl: string;
      subscriptions: string[];
      lastAckedVersion?: string;
      lastNack?: { message: string; at: string; version: string };
    }[];
  }[];
  consul: { watches: { path: string; index: number; lastGoodReadAt?: string }[] };
}

describe("GET /debug/state and /metrics", () => {
  let consul: ConsulAgent;
  let bridge: BridgeProcess;
  before(async () => {
    consul = await startConsul();
    bridge = await startBridgeProcess({ consulAddress: consul.address });
  });
  after(async () => {
    await bridge?.stop();
    await consul?.stop();
  });
  const state = async (): Promise<State> =>
    (await (await fetch(`${bridge.url}/debug/state`)).json()) as State;

  test("shows services, resource versions, each stream's ACKed version and last NACK, and Consul's indexes", async () => {
    const shim = await fetch(`${bridge.url}/edsservice/register?endpoint=127.0.0.1:1&service=web`);
    assert.equal(shim.status, 200);
    await waitFor(async () => (await state()).services.some((s) => s.name === "web"), {
      description: "web in /debug/state",
    });
    const ads = openXdsStream(bridge.xdsPort);
    try {
      ads.send({ node: { id: "envoy-debug" }, type_url: CLA, resource_names: ["web"] });
      const first = await ads.next();
      ads.send({
        type_url: CLA,
        resource_names: ["web"],
        version_info: first.version_info,
        response_nonce: first.nonce,
      });
      const acked = await waitFor(
        async () => {
          const s = await state();
          const stream = s.streams.find((x) => x.nodeId === "envoy-debug");
          return stream?.types[0]?.lastAckedVersion === first.version_info && s;
        },
        { description: "the ACK in /debug/state" },
      );
      const web = acked.services.find((s) => s.name === "web");
      assert.equal(web?.endpoints[0]?.port, 1);
      assert.equal(web?.exported, true, "web is served");
      const own = acked.services.find((s) => s.name === "consul");
      assert.equal(own?.exported, false, "consul is in Consul but not served");
      assert.ok(acked.resources[CLA]?.some((r) => r.name === "web" && r.version !== ""));
      const stream = acked.streams.find((x) => x.nodeId === "envoy-debug");
      assert.equal(stream?.service, "ads");
      assert.equal(stream?.mode, "sotw");
      assert.deepEqual(stream?.types[0]?.subscriptions, ["web"]);
      const health = acked.consul.watches.find((w) => w.path === "/health/state/critical");
      assert.ok((health?.index ?? 0) > 0, "the watch index is shown");
      assert.ok(health?.lastGoodReadAt, "the time of the last good read is shown");

      // A second registration produces a new version, which this client rejects.
      await fetch(`${bridge.url}/edsservice/register?endpoint=127.0.0.1:2&service=web`);
      let second = await ads.next();
      while ((second.assignments[0]?.endpoints[0]?.lb_endpoints.length ?? 0) < 2) {
        second = await ads.next();
      }
      ads.send({
        type_url: CLA,
        resource_names: ["web"],
        version_info: first.version_info,
        response_nonce: second.nonce,
        error_detail: { code: 3, message: "endpoint rejected by test" },
      });
      const nacked = await waitFor(
        async () =>
          (await state()).streams.find((x) => x.nodeId === "envoy-debug")?.types[0]?.lastNack,
        { description: "the NACK in /debug/state" },
      );
      assert.equal(nacked.message, "endpoint rejected by test");
      assert.ok(!Number.isNaN(Date.parse(nacked.at)));

      const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
      assert.match(metrics, /^process_cpu_seconds_total /m, "standard metrics are unprefixed");
      assert.doesNotMatch(metrics, /bridge_process_/);
      assert.match(
        metrics,
        /^bridge_xds_nacks_total\{type_url="[^"]*ClusterLoadAssignment"[^}]*\} 1$/m,
      );
      assert.match(metrics, /^bridge_xds_nacks_total\{type_url="[^"]*Listener"[^}]*\} 0$/m);
      assert.match(metrics, /^bridge_xds_streams\{type="ads",mode="sotw"\} 1$/m);
      assert.match(metrics, /^bridge_endpoints\{service="web",health="[a-z]+"\} [12]$/m);
      assert.match(
        metrics,
        /^bridge_push_to_ack_seconds_count\{type_url="[^"]*ClusterLoadAssignment"\} [1-9]/m,
      );
      assert.match(metrics, /^bridge_change_to_push_seconds_count [1-9]/m);
      assert.match(metrics, /^bridge_consul_errors_total\{endpoint="\/health\/state\/any"\} 0$/m);
      assert.match(
        metrics,
        /^bridge_consul_request_duration_seconds_count\{endpoint="\/health\/service\/:name"\} [1-9]/m,
      );
      assert.match(metrics, /^bridge_ready 1$/m);
      assert.match(
        metrics,
        /^bridge_build_info\{version="\d+\.\d+\.\d+",node_version="v[\d.]+"\} 1$/m,
      );
    } finally {
      ads.close();
    }
    await waitFor(async () => (await state()).streams.length === 0, {
      description: "the closed stream leaves /debug/state",
    });
  });
  test("shows each stream's view, in /debug/state and on the status page", async () => {
    const shim = await fetch(`${bridge.url}/edsservice/register?endpoint=127.0.0.1:3&service=api`);
    assert.equal(shim.status, 200);
    const viewed = openXdsStream(bridge.xdsPort);
    const everything = openXdsStream(bridge.xdsPort);
    try {
      const node = { id: "envoy-viewed", metadata: viewMetadata(["api", "tag:edge"]) };
      viewed.send({ node, type_url: CLA, resource_names: ["api"] });
      everything.send({ node: { id: "envoy-everything" }, type_url: CLA, resource_names: ["api"] });
      await Promise.all([viewed.next(), everything.next()]);
      const streams = await waitFor(
        async () => {
          const s = await state();
          return s.streams.length === 2 && s.streams;
        },
        { description: "both streams in /debug/state" },
      );
      const viewOf = (id: string) => streams.find((x) => x.nodeId === id)?.view;
      assert.equal(viewOf("envoy-viewed"), "api,tag:edge");
      assert.equal(viewOf("envoy-everything"), "", "a node without a view is served everything");
      const page = await (await fetch(`${bridge.url}/`)).text();
      assert.match(page, /envoy-viewed[\s\S]*?<code>api,tag:edge<\/code>/);
      assert.match(page, /envoy-everything[\s\S]*?all services/);
    } finally {
      viewed.close();
      everything.close();
    }
  });
});

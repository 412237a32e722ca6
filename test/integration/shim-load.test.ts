import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, before, describe, test } from "node:test";
import type { AgentServiceEntry } from "../../src/consul/register/agent-services.ts";
import { startBridgeProcess, type BridgeProcess } from "../support/bridge-process.ts";
import { startConsul, type ConsulAgent } from "../support/consul-agent.ts";
import { waitFor } from "../support/wait-for.ts";
import { openXdsStream, type XdsTestStream } from "../support/xds-client.ts";

// The target is 1,000 of each; CI runs a short form unless BRIDGE_LONG_TESTS=1.
const LONG = process.env.BRIDGE_LONG_TESTS === "1";
const COUNT = LONG ? 1000 : 300;
const PRESENT = LONG ? 1000 : 300;
const SERVICE = "load";

/** The i-th instance: its own loopback address, so every registration is a distinct instance. */
const addressOf = (i: number): string => `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;

interface Tally {
  statuses: Map<number, number>;
  ms: number;
  failures: string[];
}

describe(`shim under load: ${COUNT} concurrent registrations and deregistrations with ${PRESENT} services in the agent`, () => {
  let consul: ConsulAgent;
  let bridge: BridgeProcess;
  let backend: Server;
  let backendPort: number;
  let xds: XdsTestStream;

  before(async () => {
    consul = await startConsul();
    backend = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
    backendPort = (backend.address() as { port: number }).port;
    // Present before the storm, as in the report: each shim call used to list them all.
    const names = Array.from({ length: PRESENT }, (_, i) => `present-${i}`);
    for (let start = 0; start < names.length; start += 25) {
      await Promise.all(
        names.slice(start, start + 25).map((name, i) =>
          consul.api("PUT", "/v1/agent/service/register", {
            ID: name,
            Name: name,
            Address: "127.0.0.1",
            Port: 20_000 + start + i,
          }),
        ),
      );
    }
    bridge = await startBridgeProcess({
      consulAddress: consul.address,
      // Long check intervals: the agent's own TCP checks are not what is measured here.
      extraArgs: ["--check-interval=60", "--log-level=warn"],
    });
  });

  after(async () => {
    xds?.close();
    await bridge?.stop();
    await consul?.stop();
    await new Promise((resolve) => backend?.close(resolve));
  });

  const storm = async (action: "register" | "deregister"): Promise<Tally> => {
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: COUNT }, async (_, i) => {
        const url = `${bridge.url}/edsservice/${action}?endpoint=${addressOf(i)}:${backendPort}&service=${SERVICE}`;
        const response = await fetch(url);
        return { status: response.status, text: await response.text() };
      }),
    );
    const ms = performance.now() - started;
    const statuses = new Map<number, number>();
    for (const { status } of answers) statuses.set(status, (statuses.get(status) ?? 0) + 1);
    const failures = answers.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.text}`);
    return { statuses, ms, failures: failures.slice(0, 5) };
  };

  const agentLoad = async (): Promise<AgentServiceEntry[]> =>
    Object.values(
      await consul.api<Record<string, AgentServiceEntry>>("GET", "/v1/agent/services"),
    ).filter((s) => s.Service === SERVICE);

  const catalogLoad = (): Promise<{ ServiceAddress: string }[]> =>
    consul.api("GET", `/v1/catalog/service/${SERVICE}`);

  /** Waits until the bridge serves exactly `expected` addresses for the service over xDS. */
  const xdsHolds = async (expected: string[]): Promise<number> => {
    const started = performance.now();
    const want = [...expected].sort().join(",");
    let last = "";
    await waitFor(
      async () => {
        const response = await xds.next(20_000);
        const assignment = response.assignments.find((a) => a.cluster_name === SERVICE);
        if (!assignment) return false;
        xds.send({
          type_url: response.type_url,
          resource_names: [SERVICE],
          response_nonce: response.nonce,
          version_info: response.version_info,
        });
        const held = assignment.endpoints.flatMap((locality) =>
          locality.lb_endpoints.map((e) => e.endpoint.address.socket_address.address),
        );
        last = `${held.length} endpoints`;
        return held.sort().join(",") === want;
      },
      { timeoutMs: 30_000, intervalMs: 0, description: `xDS holding ${expected.length} (${last})` },
    );
    return performance.now() - started;
  };

  test("every call is answered 2xx and Consul, the catalog and the bridge's xDS hold exactly the result", async (t) => {
    xds = openXdsStream(bridge.xdsPort);
    xds.send({
      node: { id: "load-test" },
      type_url: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
      resource_names: [SERVICE],
    });
    const expected = Array.from({ length: COUNT }, (_, i) => addressOf(i));

    const registered = await storm("register");
    assert.deepEqual([...registered.statuses], [[200, COUNT]], registered.failures.join("\n"));
    const agent = await agentLoad();
    assert.deepEqual(agent.map((s) => s.Address).sort(), [...expected].sort());
    await waitFor(async () => (await catalogLoad()).length === COUNT, {
      timeoutMs: 30_000,
      description: "catalog holding every registration",
    });
    const registeredInXds = await xdsHolds(expected);

    const deregistered = await storm("deregister");
    assert.deepEqual([...deregistered.statuses], [[200, COUNT]], deregistered.failures.join("\n"));
    assert.deepEqual(await agentLoad(), []);
    await waitFor(async () => (await catalogLoad()).length === 0, {
      timeoutMs: 30_000,
      description: "catalog without the deregistered instances",
    });
    const deregisteredInXds = await xdsHolds([]);
    const present = await consul.api<Record<string, unknown>>("GET", "/v1/agent/services");
    assert.equal(Object.keys(present).length, PRESENT, "the services present before are untouched");

    t.diagnostic(
      `${COUNT} registrations: ${registered.ms.toFixed(0)} ms (xDS exact ${registeredInXds.toFixed(0)} ms later); ` +
        `${COUNT} deregistrations: ${deregistered.ms.toFixed(0)} ms (xDS exact ${deregisteredInXds.toFixed(0)} ms later); ` +
        `${PRESENT} services present`,
    );
  });
});

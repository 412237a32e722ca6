import { createServer, type Server } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { startBridgeProcess } from "../test/support/bridge-process.ts";
import { startConsul } from "../test/support/consul-agent.ts";
import { startEnvoy } from "../test/support/envoy-proxy.ts";
import { percentile, type BenchRow } from "./stats.ts";

const REGISTRATIONS = 50;
/** Pause between isolated registrations: longer than the bridge's coalescing window. */
const ISOLATED_GAP_MS = 100;

/** Listens on a free loopback port so the registration's TCP check passes. */
async function listener(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port };
}

/**
 * Time from a shim registration (`GET /edsservice/register`) to Envoy's admin `/clusters`
 * listing the endpoint, and to listing it HEALTHY, with real Consul, bridge and Envoy processes
 * on loopback: {@link REGISTRATIONS} isolated registrations (a pause between them), then as many
 * back to back, where the bridge's coalescing window merges pushes.
 */
export async function registrationLatency(): Promise<BenchRow[]> {
  const isolated = await measure(ISOLATED_GAP_MS, "shim");
  const backToBack = await measure(0, "shim");
  const direct = await measure(ISOLATED_GAP_MS, "agent");
  return [
    row(
      "Consul agent API register → HEALTHY in Envoy (isolated)",
      direct.healthy,
      "p50 ≤ 10, p99 ≤ 50",
    ),
    row(
      "shim register → listed in Envoy /clusters (isolated)",
      isolated.listed,
      "— (includes the shim call)",
    ),
    row("shim register → HEALTHY in Envoy /clusters (isolated)", isolated.healthy, "—"),
    row("shim register → HEALTHY in Envoy (back to back)", backToBack.healthy, "—"),
  ];
}

async function measure(
  gapMs: number,
  via: "shim" | "agent",
): Promise<{ listed: number[]; healthy: number[] }> {
  const consul = await startConsul();
  const bridge = await startBridgeProcess({
    consulAddress: consul.address,
    extraArgs: ["--log-level=warn"],
  });
  const envoy = await startEnvoy({ xdsPort: bridge.xdsPort, waitUntil: "admin" });
  const listed: number[] = [];
  const healthy: number[] = [];
  const servers: Server[] = [];
  try {
    for (let i = 0; i < REGISTRATIONS; i++) {
      if (gapMs > 0) await sleep(gapMs);
      const { server, port } = await listener();
      servers.push(server);
      const started = performance.now();
      const response =
        via === "shim"
          ? await fetch(`${bridge.url}/edsservice/register?endpoint=127.0.0.1:${port}`)
          : await fetch(`http://${consul.address}/v1/agent/service/register`, {
              method: "PUT",
              body: JSON.stringify({
                Name: "myservice",
                ID: `direct-${port}`,
                Address: "127.0.0.1",
                Port: port,
              }),
            });
      if (response.status !== 200)
        throw new Error(`register: ${response.status} ${await response.text()}`);
      let seenListed: number | undefined;
      for (;;) {
        const host = (await envoy.clusterHosts("myservice")).find((h) => h.port === port);
        const now = performance.now();
        if (host && seenListed === undefined) seenListed = now - started;
        if (host?.healthStatus === "HEALTHY") {
          healthy.push(now - started);
          break;
        }
        if (now - started > 30_000)
          throw new Error(`endpoint ${port} not healthy in Envoy after 30 s`);
      }
      listed.push(seenListed!);
    }
  } finally {
    for (const server of servers) server.close();
    await envoy.stop();
    await bridge.stop();
    await consul.stop();
  }
  return { listed, healthy };
}

function row(benchmark: string, values: number[], target: string): BenchRow {
  return {
    benchmark,
    samples: values.length,
    p50Ms: percentile(values, 50),
    p99Ms: percentile(values, 99),
    maxMs: Math.max(...values),
    target,
  };
}

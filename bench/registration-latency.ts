import { createServer, type Server } from "node:net";
import { startBridgeProcess } from "../test/support/bridge-process.ts";
import { startConsul } from "../test/support/consul-agent.ts";
import { startEnvoy } from "../test/support/envoy-proxy.ts";
import { percentile, type BenchRow } from "./stats.ts";

const REGISTRATIONS = 50;

/** Listens on a free loopback port so the registration's TCP check passes. */
async function listener(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port };
}

/**
 * Time from a shim registration (`GET /edsservice/register`) to Envoy's admin `/clusters`
 * listing the endpoint, and to listing it HEALTHY, over {@link REGISTRATIONS} registrations made
 * one after another with real Consul, bridge and Envoy processes on loopback.
 */
export async function registrationLatency(): Promise<BenchRow[]> {
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
      const { server, port } = await listener();
      servers.push(server);
      const started = performance.now();
      const response = await fetch(`${bridge.url}/edsservice/register?endpoint=127.0.0.1:${port}`);
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
  const row = (benchmark: string, values: number[], target: string): BenchRow => ({
    benchmark,
    samples: values.length,
    p50Ms: percentile(values, 50),
    p99Ms: percentile(values, 99),
    maxMs: Math.max(...values),
    target,
  });
  return [
    row("shim register → listed in Envoy /clusters", listed, "p50 ≤ 10, p99 ≤ 50"),
    row("shim register → HEALTHY in Envoy /clusters", healthy, "—"),
  ];
}

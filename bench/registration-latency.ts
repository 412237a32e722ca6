import { createServer, type Server } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { startBenchBridge } from "./bench-bridge.ts";
import { startConsul } from "../test/support/consul-agent.ts";
import { startEnvoy } from "../test/support/envoy-proxy.ts";
import { summary } from "./stats.ts";
import type { BenchRow, Target } from "./table.ts";

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
 * on loopback: `registrations` isolated registrations (a pause between them), then as many
 * back to back, where the bridge's coalescing window merges pushes.
 */
export async function registrationLatency(registrations: number): Promise<BenchRow[]> {
  const isolated = await measure(registrations, ISOLATED_GAP_MS, "shim");
  const backToBack = await measure(registrations, 0, "shim");
  const direct = await measure(registrations, ISOLATED_GAP_MS, "agent");
  const n = `${registrations} samples`;
  return [
    ...rows(
      "latency.agent",
      `Consul agent API register → HEALTHY in Envoy (${n})`,
      direct.healthy,
      {
        p50: atMost(10),
        p99: atMost(25),
      },
    ),
    ...rows("latency.shim.listed", `shim register → listed in Envoy (${n})`, isolated.listed),
    ...rows("latency.shim.healthy", `shim register → HEALTHY in Envoy (${n})`, isolated.healthy),
    ...rows(
      "latency.shim.back-to-back",
      `shim register → HEALTHY in Envoy, back to back (${n})`,
      backToBack.healthy,
    ),
  ];
}

const atMost = (limit: number): Target => ({
  text: `≤ ${limit} ms`,
  met: (value) => value <= limit,
});

async function measure(
  registrations: number,
  gapMs: number,
  via: "shim" | "agent",
): Promise<{ listed: number[]; healthy: number[] }> {
  const consul = await startConsul();
  const bridge = await startBenchBridge({
    consulAddress: consul.address,
    extraArgs: ["--log-level=warn"],
  });
  const envoy = await startEnvoy({ xdsPort: bridge.xdsPort, waitUntil: "admin" });
  const listed: number[] = [];
  const healthy: number[] = [];
  const servers: Server[] = [];
  try {
    for (let i = 0; i < registrations; i++) {
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

/** p50 and p99 rows of one latency sample. */
function rows(
  id: string,
  label: string,
  values: number[],
  targets: { p50?: Target; p99?: Target } = {},
): BenchRow[] {
  const { p50, p99 } = summary(values);
  return [
    {
      id: `${id}.p50`,
      label: `${label}, p50`,
      bridge: { value: p50, unit: "ms" },
      ...(targets.p50 ? { target: targets.p50 } : {}),
    },
    {
      id: `${id}.p99`,
      label: `${label}, p99`,
      bridge: { value: p99, unit: "ms" },
      ...(targets.p99 ? { target: targets.p99 } : {}),
    },
  ];
}

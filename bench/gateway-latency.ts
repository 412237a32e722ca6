/**
 * One-off measurement (`npx tsx bench/gateway-latency.ts [SAMPLES]`, default 25): the time from
 * a native Consul registration of a brand-new service (agent API) to its first request answered
 * through the gateway listener of an Envoy running the shipped envoy.yaml, and how many times
 * the bridge encoded each resource type meanwhile (`bridge_xds_encodings_total{type}`). Real
 * Consul, bridge and Envoy processes on loopback; a pause between registrations so each is
 * measured alone.
 */
import { createServer, request as httpRequest } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { startBenchBridge } from "./bench-bridge.ts";
import { startConsul } from "../test/support/consul-agent.ts";
import { gatewayBootstrap } from "../test/support/envoy-gateway-config.ts";
import { startEnvoy } from "../test/support/envoy-proxy.ts";
import { freePort } from "../test/support/free-port.ts";
import { percentile } from "./stats.ts";

/** Pause between registrations, longer than the bridge's 20 ms coalescing window. */
const GAP_MS = 200;
/** Give up on one sample after this long. */
const SAMPLE_TIMEOUT_MS = 10_000;

/** Status of one GET through the gateway with that Host, on a fresh connection (0: no answer). */
function status(port: number, host: string): Promise<number> {
  return new Promise((resolve) => {
    const request = httpRequest(
      { host: "127.0.0.1", port, path: "/", headers: { host }, agent: false, timeout: 1_000 },
      (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
      },
    );
    request.on("timeout", () => request.destroy());
    request.on("error", () => resolve(0));
    request.end();
  });
}

/** `bridge_xds_encodings_total` by type from the bridge's /metrics. */
async function encodings(bridgeUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${bridgeUrl}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^bridge_xds_encodings_total\{type="([^"]+)"\} (\d+)/gm)) {
    counts[(match[1] ?? "").split(".").at(-1) ?? ""] = Number(match[2]);
  }
  return counts;
}

async function main(samples: number): Promise<void> {
  const backend = createServer((_request, response) => response.end("ok"));
  await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
  const backendPort = (backend.address() as { port: number }).port;
  const consul = await startConsul();
  const gatewayPort = await freePort();
  const bridge = await startBenchBridge({
    consulAddress: consul.address,
    extraArgs: [`--gateway-port=${gatewayPort}`, "--gateway-host=127.0.0.1"],
  });
  const envoy = await startEnvoy({
    xdsPort: bridge.xdsPort,
    bootstrap: (values) => gatewayBootstrap(values),
    listenerPort: gatewayPort,
  });
  try {
    const before = await encodings(bridge.url);
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const name = `fresh-${i}`;
      const started = performance.now();
      await consul.api("PUT", "/v1/agent/service/register", {
        ID: name,
        Name: name,
        Address: "127.0.0.1",
        Port: backendPort,
      });
      while ((await status(gatewayPort, name)) !== 200) {
        if (performance.now() - started > SAMPLE_TIMEOUT_MS) throw new Error(`${name}: no answer`);
      }
      times.push(performance.now() - started);
      await sleep(GAP_MS);
    }
    const after = await encodings(bridge.url);
    const ms = (value: number): string => `${value.toFixed(1)} ms`;
    console.log(
      `native registration → first 200 through the gateway: median ${ms(percentile(times, 50))}, ` +
        `max ${ms(Math.max(...times))}, min ${ms(Math.min(...times))}, n ${times.length}`,
    );
    console.log(`samples (ms): ${times.map((t) => t.toFixed(1)).join(" ")}`);
    for (const type of Object.keys(after).sort()) {
      const during = (after[type] ?? 0) - (before[type] ?? 0);
      console.log(`encodings ${type}: ${during} during the ${samples} registrations`);
    }
    const rejected = await envoy.stats("update_rejected$");
    const total = Object.values(rejected).reduce<number>((sum, v) => sum + Number(v), 0);
    console.log(`Envoy update_rejected (all types): ${total}`);
  } finally {
    await envoy.stop();
    await bridge.stop();
    await consul.stop();
    backend.close();
  }
}

await main(Number(process.argv[2] ?? 25));

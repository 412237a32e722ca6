import {
  credentials,
  makeGenericClientConstructor,
  type Client,
  type ClientDuplexStream,
} from "@grpc/grpc-js";
import { setTimeout as sleep } from "node:timers/promises";
import { startConsul } from "../test/support/consul-agent.ts";
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS } from "../src/xds/resources/cluster-load-assignment.ts";
import { loadXdsProtos } from "../src/xds/resources/protos.ts";
import { startBenchBridge } from "./bench-bridge.ts";
import { loadServices } from "./consul-catalog.ts";
import { instances } from "./instances.ts";
import { peakRssBytes, rssBytes } from "./proc-stats.ts";
import type { BenchRow } from "./table.ts";

const MB = 1024 * 1024;
/** gRPC's default receive limit, which every request of the burst stays under. */
const REQUEST_LIMIT_BYTES = 4 * MB;
/** How close to its RSS before the burst the bridge must come back. */
const SETTLED_WITHIN_BYTES = 50 * MB;
/** How long after the clients left the RSS is watched. */
const WATCH_AFTER_MS = 120_000;
const SAMPLE_MS = 1_000;
const QUIET_BEFORE_MS = 3_000;
const RESPONSE_TIMEOUT_MS = 120_000;

/**
 * A hostile burst: `names` distinct resource names nobody serves, asked for over `streams` ADS
 * streams (half state of the world, half delta; each request under 4 MB), each stream closed
 * once answered. The bridge runs on a real Consul; its RSS is read before, at its peak, and
 * every second after the clients left until it is within 50 MB of where it started (at most
 * 2 minutes): memory a client can make the bridge take must be given back.
 */
export async function nameBurstRows(names: number, streams: number): Promise<BenchRow[]> {
  const consul = await startConsul();
  const stops: (() => Promise<void>)[] = [() => consul.stop()];
  try {
    await loadServices(consul.address, [{ service: "web", instances: instances(10) }]);
    const bridge = await startBenchBridge({
      consulAddress: consul.address,
      extraArgs: ["--log-level=warn"],
    });
    stops.unshift(() => bridge.stop());
    await sleep(QUIET_BEFORE_MS);
    const before = await rssBytes(bridge.pid);

    const perStream = Math.ceil(names / streams);
    await Promise.all(
      Array.from({ length: streams }, (_, s) => {
        const asked = Array.from({ length: perStream }, (_, i) => `burst-${s}-${i}`);
        return askOnce(bridge.xdsPort, s % 2 === 0 ? "sotw" : "delta", asked);
      }),
    );
    const leftAt = performance.now();
    const peak = await peakRssBytes(bridge.pid);

    let after = await rssBytes(bridge.pid);
    while (after > before + SETTLED_WITHIN_BYTES && performance.now() - leftAt < WATCH_AFTER_MS) {
      await sleep(SAMPLE_MS);
      after = await rssBytes(bridge.pid);
    }
    const settledSeconds = (performance.now() - leftAt) / 1000;

    const burst = `${names} names over ${streams} streams`;
    return [
      {
        id: "name-burst.rss.before",
        label: `name burst (${burst}): bridge RSS before`,
        bridge: { value: before / MB, unit: "MB" },
      },
      {
        id: "name-burst.rss.peak",
        label: `name burst (${burst}): bridge peak RSS`,
        bridge: { value: peak / MB, unit: "MB" },
      },
      {
        id: "name-burst.rss.after",
        label: `name burst (${burst}): bridge RSS after the clients left`,
        bridge: { value: after / MB, unit: "MB" },
        target: {
          text: `≤ before + ${SETTLED_WITHIN_BYTES / MB} MB within ${WATCH_AFTER_MS / 1000} s`,
          met: (value) => value <= (before + SETTLED_WITHIN_BYTES) / MB,
        },
      },
      {
        id: "name-burst.settle",
        label: `name burst (${burst}): clients gone → RSS back within ${SETTLED_WITHIN_BYTES / MB} MB`,
        bridge: { value: settledSeconds, unit: "s" },
        note: `sampled every ${SAMPLE_MS / 1000} s, for at most ${WATCH_AFTER_MS / 1000} s`,
      },
    ];
  } finally {
    for (const stop of stops) await stop();
  }
}

/** Opens one ADS stream, asks for `names` in one request, waits for the answer, closes. */
async function askOnce(port: number, mode: "sotw" | "delta", names: string[]): Promise<void> {
  const size = names.reduce((total, name) => total + name.length + 3, 0);
  if (size >= REQUEST_LIMIT_BYTES) throw new Error(`a request of ${size} bytes is over 4 MB`);
  const Ads = makeGenericClientConstructor(loadXdsProtos().adsService, "ads");
  // Answers to a hostile request are large: the client takes them whole.
  const client = new Ads(`127.0.0.1:${port}`, credentials.createInsecure(), {
    "grpc.max_receive_message_length": -1,
  }) as Client & Record<string, () => ClientDuplexStream<object, object>>;
  const method = mode === "sotw" ? "StreamAggregatedResources" : "DeltaAggregatedResources";
  const call = client[method]!.call(client);
  try {
    const answered = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no answer within ${RESPONSE_TIMEOUT_MS} ms`)),
        RESPONSE_TIMEOUT_MS,
      );
      call.once("data", () => {
        clearTimeout(timer);
        resolve();
      });
      call.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    const node = { id: `burst-${mode}` };
    call.write(
      mode === "sotw"
        ? { node, type_url: EDS, resource_names: names }
        : { node, type_url: EDS, resource_names_subscribe: names },
    );
    await answered;
  } finally {
    call.on("error", () => undefined);
    call.cancel();
    client.close();
  }
}

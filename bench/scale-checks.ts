import { measureChurn, type ChurnResult } from "./check-churn.ts";
import { measureFlips, type FlipResult } from "./check-flips.ts";
import { measureNewService, measureStreamFlips, type NewServiceResult } from "./check-streams.ts";
import { startChecksStack } from "./checks-stack.ts";
import { measureEnvoyViews, type EnvoyViewsResult } from "./envoy-views.ts";
import type { GoPrograms } from "./go-programs.ts";
import type { BenchSizes } from "./options.ts";
import { peakRssBytes } from "./proc-stats.ts";
import { percentile } from "./stats.ts";
import type { BenchRow, Figure } from "./table.ts";

const MB = 1024 * 1024;
/** A figure at the large size may be at most this many times the small size's. */
const SCALE_FACTOR = 1.5;

/** Everything measured at one catalog size. */
interface SizeResult {
  services: number;
  readyMs: number;
  rssAfterSyncBytes: number;
  peakRssBytes: number;
  flips: FlipResult;
  churn: ChurnResult;
  recoveringChurn: ChurnResult;
  streamFlipsMs: number[];
  newService: NewServiceResult;
  deltaNewService: NewServiceResult;
  envoyViews: EnvoyViewsResult;
}

/** One figure of the table: how to read it from a size's result, and its absolute target. */
interface FigureSpec {
  id: string;
  label: string;
  unit: Figure["unit"];
  value(result: SizeResult): number;
  /** The absolute target (`≤ limit`), if any. */
  limit?: number;
  /** Whether the large size must also stay within {@link SCALE_FACTOR} of the small one. */
  flat?: boolean;
  note?: string;
}

/**
 * The `scale-checks` rows: a catalog where every instance has its own check, at two sizes
 * (`scaleChecksServices` × `scaleChecksInstances`), each figure's two sizes on adjacent rows.
 */
export async function scaleChecksRows(
  sizes: BenchSizes,
  programs: GoPrograms,
): Promise<BenchRow[]> {
  const results: SizeResult[] = [];
  for (const services of sizes.scaleChecksServices)
    results.push(await measureSize(services, sizes, programs));
  const [small, large] = results as [SizeResult, SizeResult];
  const perService = sizes.scaleChecksInstances;
  const name = (r: SizeResult) => `${r.services.toLocaleString("en")} × ${perService}`;
  return figures(sizes).flatMap((spec) =>
    [small, large].map((result, index): BenchRow => {
      const value = spec.value(result);
      const smallValue = spec.value(small);
      const scaled = index === 1 && spec.flat === true;
      const texts = [
        ...(spec.limit === undefined ? [] : [atMost(spec.limit, spec.unit)]),
        ...(scaled ? [`≤ ${SCALE_FACTOR} × [${name(small)}]`] : []),
      ];
      return {
        id: `scale-checks.${index === 0 ? "small" : "large"}.${spec.id}`,
        label: `scale-checks: ${spec.label} [${name(result)}]`,
        bridge: { value, unit: spec.unit },
        ...(texts.length === 0
          ? {}
          : {
              target: {
                text: texts.join(", "),
                met: (v: number) =>
                  (spec.limit === undefined || v <= spec.limit) &&
                  (!scaled || v <= SCALE_FACTOR * smallValue),
              },
            }),
        ...(spec.note && index === 0 ? { note: spec.note } : {}),
      };
    }),
  );
}

function atMost(limit: number, unit: Figure["unit"]): string {
  return unit === "count" ? `≤ ${limit}` : `≤ ${limit} ${unit}`;
}

async function measureSize(
  services: number,
  sizes: BenchSizes,
  programs: GoPrograms,
): Promise<SizeResult> {
  const stack = await startChecksStack(services, sizes.scaleChecksInstances);
  try {
    const flips = await measureFlips(stack, sizes.scaleChecksFlips, sizes.scaleChecksIdleMs);
    // Failures that recover first, from a catalog all passing; then random flips.
    const recoveringChurn = await measureChurn(
      stack,
      sizes.scaleChecksRecoveringChurnSeconds,
      "recovering",
    );
    const churn = await measureChurn(stack, sizes.scaleChecksChurnSeconds);
    // Peak through sync, flips and churn, before the many-stream rows add their own clients.
    const peak = await peakRssBytes(stack.bridge.pid);
    const streamFlipsMs = await measureStreamFlips(
      stack,
      programs,
      sizes.scaleChecksStreams,
      sizes.scaleChecksStreamFlips,
    );
    const newService = await measureNewService(
      stack,
      programs,
      sizes.scaleChecksSotwStreams,
      false,
    );
    const deltaNewService = await measureNewService(
      stack,
      programs,
      sizes.scaleChecksSotwStreams,
      true,
    );
    const envoyViews = await measureEnvoyViews(stack);
    return {
      services,
      readyMs: stack.readyMs,
      rssAfterSyncBytes: stack.rssAfterSyncBytes,
      peakRssBytes: peak,
      flips,
      churn,
      recoveringChurn,
      streamFlipsMs,
      newService,
      deltaNewService,
      envoyViews,
    };
  } finally {
    await stack.stop();
  }
}

function figures(sizes: BenchSizes): FigureSpec[] {
  const flips = `(${sizes.scaleChecksFlips} flips each way)`;
  const churn = `churn ${sizes.scaleChecksChurnSeconds} s (50 flips/s, 5 registrations/s)`;
  const recovering = `churn ${sizes.scaleChecksRecoveringChurnSeconds} s, failures recover in 10 s`;
  const streams = sizes.scaleChecksStreams.toLocaleString("en");
  const sotw = sizes.scaleChecksSotwStreams;
  return [
    {
      id: "ready",
      label: "bridge spawn → /ready",
      unit: "s",
      value: (r) => r.readyMs / 1000,
      limit: 10,
      note:
        "Consul 1.8.7 with http_max_conns_per_client = 16, instances over 50 nodes, each with " +
        "its own check; the bridge reads Consul through a counting proxy; flips set a check " +
        "with PUT /v1/catalog/register",
    },
    {
      id: "flip.p50",
      label: `one check flip → Envoy (ADS, admin /clusters polled every 5 ms), p50 ${flips}`,
      unit: "ms",
      value: (r) => percentile(r.flips.latenciesMs, 50),
      limit: 50,
      flat: true,
    },
    {
      id: "flip.max",
      label: `one check flip → Envoy (ADS, admin /clusters polled every 5 ms), max ${flips}`,
      unit: "ms",
      value: (r) => Math.max(...r.flips.latenciesMs),
      limit: 150,
      flat: true,
    },
    {
      id: "flip.bridge-cpu",
      label: "bridge CPU per change (its idle CPU subtracted)",
      unit: "ms",
      value: (r) => r.flips.bridgeCpuMsPerChange,
      limit: 10,
      flat: true,
    },
    {
      id: "flip.consul-cpu",
      label: "Consul CPU per change (its write included, its idle CPU subtracted)",
      unit: "ms",
      value: (r) => r.flips.consulCpuMsPerChange,
      limit: 20,
      flat: true,
      note:
        "(CPU over the flips − CPU at rest over as long, measured just before them) / flips: " +
        "serving the bridge's reads and applying the write",
    },
    {
      id: "flip.consul-idle",
      label: "Consul CPU at rest, ms per second",
      unit: "ms",
      value: (r) => r.flips.consulIdleCpuMsPerSecond,
    },
    {
      id: "flip.bridge-idle",
      label: "bridge CPU at rest, ms per second",
      unit: "ms",
      value: (r) => r.flips.bridgeIdleCpuMsPerSecond,
    },
    {
      id: "flip.bytes",
      label: "bytes read from Consul per change",
      unit: "KB",
      value: (r) => r.flips.bytesPerChange / 1024,
      limit: 64,
      flat: true,
    },
    {
      id: "flip.calls",
      label: "Consul calls per change",
      unit: "count",
      value: (r) => r.flips.callsPerChange,
    },
    ...churnFigures("churn", churn, (r) => r.churn, {
      lastFlip:
        "the last flip is sent once Consul has taken every churn write; one change in 10 lands " +
        "on Envoy's service",
      settled:
        "polled every 250 ms: an instance registered passing in the churn's last seconds is " +
        "found by the next summary comparison, or by the sweep of every service's index when one " +
        "is running, after the last flip may already show",
      critical:
        "random flips turn a check over: the failed set grows toward half the instances " +
        "flipped, more in a larger catalog, and each critical answer carries all of it",
    }),
    ...churnFigures("churn-recovering", recovering, (r) => r.recoveringChurn, {
      lastFlip:
        "before the random churn, from a catalog all passing: 25 failures/s, each passing again " +
        "10 s later (25 recoveries/s), and 5 registrations/s, so the failed set is about the " +
        "same at both sizes",
    }),
    {
      id: "rss.sync",
      label: "bridge RSS after sync",
      unit: "MB",
      value: (r) => r.rssAfterSyncBytes / MB,
      limit: 400,
    },
    {
      id: "rss.peak",
      label: "bridge peak RSS (sync, flips, churn)",
      unit: "MB",
      value: (r) => r.peakRssBytes / MB,
      limit: 500,
    },
    {
      id: "streams.flip",
      label: `one flip → all ${streams} load-client streams have it, p50 (${sizes.scaleChecksStreamFlips} flips)`,
      unit: "ms",
      value: (r) => percentile(r.streamFlipsMs, 50),
    },
    {
      id: "sotw.new-service.ms",
      label: `one new service → all ${sotw} SotW streams (every service) have it`,
      unit: "ms",
      value: (r) => r.newService.allMs,
      note: "each stream subscribes to EDS by name: every service and the new one",
    },
    {
      id: "sotw.new-service.bytes",
      label: `one new service: bytes per SotW stream (${sotw} streams)`,
      unit: "KB",
      value: (r) => r.newService.bytesPerStream / 1024,
    },
    {
      id: "delta.new-service.ms",
      label: `one new service → all ${sotw} delta streams (every service) have it`,
      unit: "ms",
      value: (r) => r.deltaNewService.allMs,
      note: "the same, over DeltaAggregatedResources, after the SotW row's service",
    },
    {
      id: "delta.new-service.bytes",
      label: `one new service: bytes per delta stream (${sotw} streams)`,
      unit: "KB",
      value: (r) => r.deltaNewService.bytesPerStream / 1024,
    },
    {
      id: "envoy.full.rss",
      label: "Envoy RSS holding every service (no view)",
      unit: "MB",
      value: (r) => r.envoyViews.full.rssBytes / MB,
      note: "the shipped envoy.yaml; RSS once every cluster has its assignment (none warming)",
    },
    {
      id: "envoy.full.clusters",
      label: "Envoy clusters holding every service (no view)",
      unit: "count",
      value: (r) => r.envoyViews.full.clusters,
    },
    {
      id: "envoy.view.rss",
      label: "Envoy RSS with a 10-service view (node metadata consul-services)",
      unit: "MB",
      value: (r) => r.envoyViews.view.rssBytes / MB,
    },
    {
      id: "envoy.view.clusters",
      label: "Envoy clusters with a 10-service view",
      unit: "count",
      value: (r) => r.envoyViews.view.clusters,
    },
  ];
}

/** The rows of one churn: `id` prefixes their ids, `label` their labels. */
function churnFigures(
  id: string,
  label: string,
  churn: (result: SizeResult) => ChurnResult,
  notes: { lastFlip?: string; settled?: string; critical?: string },
): FigureSpec[] {
  return [
    {
      id: `${id}.last-flip`,
      label: `${label}: last flip → Envoy`,
      unit: "ms",
      value: (r) => churn(r).lastFlipMs,
      limit: 500,
      flat: true,
      note: notes.lastFlip,
    },
    {
      id: `${id}.cpu`,
      label: `${label}: bridge CPU, % of one core`,
      unit: "%",
      value: (r) => churn(r).bridgeCpuPercent,
      limit: 50,
      flat: true,
    },
    {
      id: `${id}.mismatches`,
      label: `${label}: Envoy hosts differing from Consul at the end`,
      unit: "count",
      value: (r) => churn(r).mismatches,
      limit: 0,
    },
    {
      id: `${id}.mismatches-settled`,
      label: `${label}: Envoy hosts differing from Consul once settled (≤ 30 s)`,
      unit: "count",
      value: (r) => churn(r).mismatchesSettled,
      limit: 0,
    },
    {
      id: `${id}.settled`,
      label: `${label}: last flip shown → Envoy equal to Consul`,
      unit: "ms",
      value: (r) => churn(r).settledMs,
      note: notes.settled,
    },
    {
      id: `${id}.critical`,
      label: `${label}: critical checks in Consul at the end`,
      unit: "count",
      value: (r) => churn(r).criticalAtEnd,
      note: notes.critical,
    },
    {
      id: `${id}.rate`,
      label: `${label}: flips/s Consul took`,
      unit: "count",
      value: (r) => churn(r).flipsPerSecond,
    },
  ];
}

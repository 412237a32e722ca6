/** The bridge's counters the benchmark reads from its Prometheus `/metrics`. */
export interface BridgeCounters {
  /** xDS responses sent, all types. */
  xdsResponses: number;
  /** Targeted `/v1/health/service/NAME` reads. */
  serviceReads: number;
  /** Resources encoded (`bridge_xds_encodings_total`, all types), when the bridge exposes it. */
  encodings: number | undefined;
  /** Responses encoded (`bridge_xds_response_encodings_total`), each shared by many streams. */
  responseEncodings: number | undefined;
}

/** Sum of every sample of a metric in Prometheus text format (undefined when absent). */
export function metricSum(text: string, name: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!rest.startsWith(" ") && !rest.startsWith("{")) continue;
    sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/** Reads the counters from `BRIDGE_URL/metrics`. */
export async function bridgeCounters(bridgeUrl: string): Promise<BridgeCounters> {
  const response = await fetch(`${bridgeUrl}/metrics`);
  if (!response.ok) throw new Error(`GET /metrics: ${response.status}`);
  const text = await response.text();
  return {
    xdsResponses: metricSum(text, "bridge_xds_responses_total") ?? Number.NaN,
    serviceReads: metricSum(text, "bridge_consul_service_reads_total") ?? Number.NaN,
    encodings: metricSum(text, "bridge_xds_encodings_total"),
    responseEncodings: metricSum(text, "bridge_xds_response_encodings_total"),
  };
}

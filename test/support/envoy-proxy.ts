import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { startProcess, type ManagedProcess } from "./child-process.ts";
import { envoyConfig, type ExtraService, type XdsTlsClient } from "./envoy-config.ts";
import { freePorts } from "./free-port.ts";
import { toolPath } from "./tools.ts";
import { waitFor } from "./wait-for.ts";

export type { ExtraService, XdsTlsClient } from "./envoy-config.ts";

/** Options for {@link startEnvoy}. */
export interface EnvoyOptions {
  /** Port of the bridge's xDS server on 127.0.0.1 (nothing needs to listen there). */
  xdsPort: number;
  /** xDS ports of more bridge replicas, listed next to `xdsPort` in `xds_cluster`. */
  extraXdsPorts?: number[];
  /** Node id sent to the bridge (default `envoy-test-LISTENERPORT`, unique per Envoy). */
  nodeId?: string;
  /** More EDS clusters, cloned from `myservice` and routed by path prefix (e.g. `/late`). */
  extraServices?: ExtraService[];
  /** Connect to the bridge over TLS, or mutual TLS when a client certificate is given. */
  xdsTls?: XdsTlsClient;
  /** Bearer token Envoy sends on its ADS stream (gRPC `initial_metadata`). */
  xdsToken?: string;
  /** Envoy's `--log-level` (default `warn`; access logs are printed whatever the level). */
  logLevel?: string;
  /** Envoy's `--component-log-level` (e.g. `config:debug`), on top of `logLevel`. */
  componentLogLevel?: string;
  /**
   * What {@link startEnvoy} waits for. `live` (default): `/server_info` says LIVE, which Envoy
   * reaches only once every EDS cluster got its first assignment or `initial_fetch_timeout`
   * (15 s) expired, and only then does the listener accept connections. `admin`: the admin
   * interface answers (state PRE_INITIALIZING while waiting for the control plane).
   */
  waitUntil?: "admin" | "live";
  /** Deadline of that wait (default 30 s). */
  startTimeoutMs?: number;
  /**
   * Runs this configuration instead of envoy-static.yaml (e.g. `gatewayBootstrap`, the shipped
   * envoy.yaml naming only the bridge); it gets the node id and admin port chosen here and must
   * bind the admin interface on 127.0.0.1.
   */
  bootstrap?: (values: { nodeId: string; adminPort: number; xdsPort: number }) => string;
  /** The port `request()` goes to when `bootstrap` listens elsewhere than a free port. */
  listenerPort?: number;
}

/** One host of a cluster as Envoy's admin `/clusters?format=json` shows it. */
export interface EnvoyHost {
  address: string;
  port: number;
  /** The EDS health status: HEALTHY, UNHEALTHY, DRAINING, TIMEOUT, DEGRADED or UNKNOWN. */
  healthStatus: string;
  /** Other health flags that are set, e.g. `failed_outlier_check`, `pending_dynamic_removal`. */
  healthFlags: string[];
  /** `load_balancing_weight` (1 when none was sent). */
  weight: number;
  /** Priority (0 when absent). */
  priority: number;
  locality: { region?: string; zone?: string; sub_zone?: string };
  hostname?: string;
  /** Per-host counters and gauges (`rq_total`, `cx_active`, …); zero when absent. */
  stats: Record<string, number>;
}

/** An answer received through Envoy's listener. */
export interface EnvoyResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real Envoy running envoy-static.yaml (or a given bootstrap) on free loopback ports. */
export interface EnvoyProxy {
  /** Process id (for its memory and CPU in /proc). */
  readonly pid: number;
  readonly adminPort: number;
  readonly listenerPort: number;
  readonly nodeId: string;
  /** The configuration it runs (after substitution). */
  readonly config: string;
  /** A GET through the listener, on a new connection each time so any backend may answer. */
  request(
    path: string,
    headers?: Record<string, string>,
    timeoutMs?: number,
  ): Promise<EnvoyResponse>;
  /** Hosts of a cluster; [] before any assignment; throws if Envoy has no such cluster. */
  clusterHosts(cluster: string): Promise<EnvoyHost[]>;
  /** Stats whose name matches the regular expression (RE2), e.g. `^cluster\.myservice\.`. */
  stats(filter?: string): Promise<Record<string, number | string>>;
  /** One counter or gauge by exact name (e.g. `control_plane.connected_state`), or undefined. */
  stat(name: string): Promise<number | undefined>;
  /** `cluster.NAME.*` stats with that prefix removed (`update_success`, `version_text`, …). */
  clusterStats(cluster: string): Promise<Record<string, number | string>>;
  /** `/server_info` state: PRE_INITIALIZING, INITIALIZING, LIVE, DRAINING. */
  serverState(): Promise<string>;
  /** GET on the admin interface, returning the body (throws on a non-2xx answer). */
  admin(path: string): Promise<string>;
  output(): string;
  /** SIGTERM, then SIGKILL after a grace period; resolves once it has exited. */
  stop(): Promise<void>;
  /** SIGKILL (a crash). */
  kill(): Promise<void>;
}

const ADDRESS_IN_USE = "Address already in use";
const START_ATTEMPTS = 3;

/**
 * Starts Envoy with envoy-static.yaml (ports and node id substituted) and resolves when it is
 * ready as `waitUntil` says. Several can run at once (`--disable-hot-restart`: no shared memory).
 * Ports are probed free, then bound by Envoy; if one was taken meanwhile, it retries on new ports.
 */
export async function startEnvoy(options: EnvoyOptions): Promise<EnvoyProxy> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      const retry = error instanceof PortTakenError && attempt < START_ATTEMPTS;
      if (!retry) throw error;
    }
  }
}

class PortTakenError extends Error {
  override readonly name = "PortTakenError";
}

async function startOnce(options: EnvoyOptions): Promise<EnvoyProxy> {
  const [adminPort, freeListenerPort] = (await freePorts(2)) as [number, number];
  const listenerPort = options.listenerPort ?? freeListenerPort;
  const nodeId = options.nodeId ?? `envoy-test-${listenerPort}`;
  const { bootstrap, xdsPort } = options;
  const config = bootstrap
    ? bootstrap({ nodeId, adminPort, xdsPort })
    : envoyConfig({
        nodeId,
        adminPort,
        listenerPort,
        xdsPort: options.xdsPort,
        extraXdsPorts: options.extraXdsPorts ?? [],
        extraServices: options.extraServices ?? [],
        ...(options.xdsTls ? { xdsTls: options.xdsTls } : {}),
        ...(options.xdsToken === undefined ? {} : { xdsToken: options.xdsToken }),
      });
  const process = startProcess(toolPath("envoy"), [
    "--config-yaml",
    config,
    "--disable-hot-restart",
    "--concurrency",
    "1",
    "--log-level",
    options.logLevel ?? "warn",
    ...(options.componentLogLevel ? ["--component-log-level", options.componentLogLevel] : []),
    // Access logs reach output() within 0.1 s instead of the default 10 s.
    "--file-flush-interval-msec",
    "100",
  ]);
  const proxy = createProxy(process, { adminPort, listenerPort, nodeId, config });
  const live = (options.waitUntil ?? "live") === "live";
  const hasExited = (): boolean =>
    process.child.exitCode !== null || process.child.signalCode !== null;
  let outcome: "ready" | "exited";
  try {
    outcome = await waitFor(
      async () => {
        if (hasExited()) return "exited";
        const state = await proxy.serverState();
        return (!live || state === "LIVE") && "ready";
      },
      {
        timeoutMs: options.startTimeoutMs ?? 30_000,
        description: live ? "envoy LIVE" : "envoy admin answering",
      },
    );
  } catch (error) {
    await process.stop();
    throw new Error(`${String(error)}\nenvoy output:\n${process.output()}`, { cause: error });
  }
  if (outcome === "exited") {
    const message = `envoy exited during start:\n${process.output()}`;
    throw process.output().includes(ADDRESS_IN_USE)
      ? new PortTakenError(message)
      : new Error(message);
  }
  return proxy;
}

function createProxy(
  process: ManagedProcess,
  fields: { adminPort: number; listenerPort: number; nodeId: string; config: string },
): EnvoyProxy {
  const admin = async (path: string): Promise<string> => {
    const response = await fetch(`http://127.0.0.1:${fields.adminPort}${path}`, {
      signal: AbortSignal.timeout(5_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`envoy admin GET ${path}: ${response.status} ${text}`);
    return text;
  };

  const stats = async (filter?: string): Promise<Record<string, number | string>> => {
    const query = filter === undefined ? "" : `&filter=${encodeURIComponent(filter)}`;
    const body = JSON.parse(await admin(`/stats?format=json${query}`)) as {
      stats: { name?: string; value?: number | string }[];
    };
    const result: Record<string, number | string> = {};
    // Histograms come as one entry without a name; counters, gauges and text readouts have one.
    for (const { name, value } of body.stats) if (name !== undefined) result[name] = value ?? 0;
    return result;
  };

  return {
    ...fields,
    pid: process.child.pid ?? -1,
    admin,
    stats,
    request: (path, headers = {}, timeoutMs = 5_000) =>
      get(fields.listenerPort, path, headers, timeoutMs),
    async clusterHosts(cluster) {
      const body = JSON.parse(await admin("/clusters?format=json")) as AdminClusters;
      const status = body.cluster_statuses?.find((candidate) => candidate.name === cluster);
      if (!status) throw new Error(`envoy has no cluster ${cluster}`);
      return (status.host_statuses ?? []).map(toHost);
    },
    async stat(name) {
      const value = (await stats(`^${escapeRegExp(name)}$`))[name];
      return typeof value === "number" ? value : undefined;
    },
    async clusterStats(cluster) {
      const prefix = `cluster.${cluster}.`;
      const all = await stats(`^${escapeRegExp(prefix)}`);
      return Object.fromEntries(
        Object.entries(all).map(([name, value]) => [name.slice(prefix.length), value]),
      );
    },
    async serverState() {
      return (JSON.parse(await admin("/server_info")) as { state: string }).state;
    },
    output: () => process.output(),
    stop: () => process.stop(),
    kill: () => process.kill(),
  };
}

/** The part of `/clusters?format=json` read here (envoy.admin.v3.Clusters). */
interface AdminClusters {
  cluster_statuses?: {
    name: string;
    host_statuses?: AdminHost[];
  }[];
}

/** envoy.admin.v3.HostStatus as JSON: zero values and false flags are omitted. */
interface AdminHost {
  address?: { socket_address?: { address: string; port_value?: number } };
  stats?: { name: string; value?: string; type?: string }[];
  health_status?: { eds_health_status?: string } & Record<string, unknown>;
  weight?: number;
  priority?: number;
  hostname?: string;
  locality?: EnvoyHost["locality"];
}

function toHost(host: AdminHost): EnvoyHost {
  const { eds_health_status: healthStatus = "UNKNOWN", ...flags } = host.health_status ?? {};
  return {
    address: host.address?.socket_address?.address ?? "",
    port: host.address?.socket_address?.port_value ?? 0,
    healthStatus,
    healthFlags: Object.keys(flags).filter((flag) => flags[flag] === true),
    weight: host.weight ?? 1,
    priority: host.priority ?? 0,
    locality: host.locality ?? {},
    ...(host.hostname === undefined ? {} : { hostname: host.hostname }),
    // uint64 counters are strings in proto JSON.
    stats: Object.fromEntries(
      (host.stats ?? []).map((stat) => [stat.name, Number(stat.value ?? 0)]),
    ),
  };
}

/** A GET on a fresh connection (no agent: `Connection: close`), with an overall deadline. */
function get(
  port: number,
  path: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<EnvoyResponse> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: "127.0.0.1", port, path, headers, agent: false },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => {
          clearTimeout(timer);
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
        });
        response.on("error", reject);
      },
    );
    const timer = setTimeout(
      () => request.destroy(new Error(`GET ${path} through envoy: no answer in ${timeoutMs} ms`)),
      timeoutMs,
    );
    request.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.end();
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

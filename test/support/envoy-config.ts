import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./tools.ts";

/** The default configuration (`envoy -c envoy.yaml`): a bootstrap naming only the bridge. */
export const ENVOY_YAML_PATH = join(repoRoot, "envoy.yaml");
/** The static example (`envoy -c envoy-static.yaml`): own listener, cluster `myservice`, EDS only. */
export const ENVOY_STATIC_YAML_PATH = join(repoRoot, "envoy-static.yaml");

/**
 * An extra EDS cluster, a clone of `myservice`, mounted under a path prefix of the listener: with
 * prefix `/late`, `/late` and `/late/...` (not `/lately`) go to it, and its backends see the path
 * without the prefix (`/late` → `/`, `/late/x?y` → `/x?y`), so any backend serving `/` works.
 */
export interface ExtraService {
  /** Cluster name, which is also the EDS resource name Envoy asks the bridge for. */
  name: string;
  /** Path prefix routed to it (default `/NAME`), without a trailing slash. */
  prefix?: string;
}

/** TLS from Envoy to the bridge's xDS port (PEM file paths). */
export interface XdsTlsClient {
  /** CA that signed the bridge's certificate. */
  caFile: string;
  /** Envoy's client certificate and key, for mutual TLS. */
  certFile?: string;
  keyFile?: string;
  /** SNI sent to the bridge. */
  sni?: string;
}

/** The values tests substitute in envoy-static.yaml (the lines marked "tests:" there). */
export interface EnvoyConfigValues {
  nodeId: string;
  adminPort: number;
  listenerPort: number;
  xdsPort: number;
  /** More bridges (replicas) on 127.0.0.1 listed in `xds_cluster`; Envoy's ADS stream uses one. */
  extraXdsPorts?: number[];
  extraServices?: ExtraService[];
  /** Connect to the bridge over TLS (a transport socket on `xds_cluster`). */
  xdsTls?: XdsTlsClient;
  /** Bearer token sent on the ADS stream (`initial_metadata` of the gRPC service). */
  xdsToken?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const PREFIX = /^(\/[A-Za-z0-9._~-]+)+$/;

/**
 * envoy-static.yaml with the marked values replaced and, for each extra service, the `myservice`
 * cluster and the catch-all route cloned under the new name (routes go above the catch-all, so
 * the longest prefix wins). Throws when the file no longer has the expected markers.
 */
export function envoyConfig(
  values: EnvoyConfigValues,
  yaml = readFileSync(ENVOY_STATIC_YAML_PATH, "utf8"),
): string {
  let text = yaml;
  text = replaceExactly(text, "id: envoy-local", `id: ${JSON.stringify(values.nodeId)}`, 1);
  text = replaceExactly(text, "address: 0.0.0.0", "address: 127.0.0.1", 1); // the listener
  text = replaceExactly(text, "port_value: 9901", `port_value: ${values.adminPort}`, 1);
  text = replaceExactly(text, "port_value: 10000", `port_value: ${values.listenerPort}`, 1);
  text = replaceExactly(text, "port_value: 18000", `port_value: ${values.xdsPort}`, 1);
  text = withXdsReplicas(text, values.extraXdsPorts ?? []);
  text = withXdsAuth(text, values);

  const extras = values.extraServices ?? [];
  if (extras.length === 0) return text;
  for (const { name, prefix } of extras) {
    if (!NAME.test(name) || name === "myservice" || name === "xds_cluster")
      throw new Error(`envoy config: bad extra service name ${JSON.stringify(name)}`);
    if (prefix !== undefined && !PREFIX.test(prefix))
      throw new Error(`envoy config: bad prefix ${JSON.stringify(prefix)} for ${name}`);
  }
  const lines = text.split("\n");
  const cluster = findBlock(lines, /^\s*- name: myservice\s*$/, "the myservice cluster");
  const route = findBlock(lines, /^\s*- match: \{ prefix: "\/" \}\s*$/, "the catch-all route");
  const rename = (block: string[], name: string): string[] =>
    block.map((line) => line.replace(/\bmyservice\b/g, name));
  const clusters = extras.flatMap(({ name }) => rename(cluster.lines, name));
  const routes = extras.flatMap(({ name, prefix = `/${name}` }) =>
    rename(route.lines, name).flatMap((line, index) => {
      if (index === 0)
        return [line.replace('prefix: "/"', `path_separated_prefix: ${JSON.stringify(prefix)}`)];
      if (!/^\s*route:\s*$/.test(line)) return [line];
      // Strips the prefix; the catch-all's route options follow, indented one level deeper.
      const rewrite = {
        pattern: { regex: `^${prefix.replace(/\./g, "\\.")}/?` },
        substitution: "/",
      };
      return [line, `${" ".repeat(indentOf(line) + 2)}regex_rewrite: ${JSON.stringify(rewrite)}`];
    }),
  );
  // Insert from the bottom up so the other block's indices stay valid.
  const insertions = [
    { at: cluster.end, add: clusters },
    { at: route.start, add: routes },
  ].sort((a, b) => b.at - a.at);
  for (const { at, add } of insertions) lines.splice(at, 0, ...add);
  return lines.join("\n");
}

/**
 * Adds, as one-line JSON (valid YAML), the `initial_metadata` carrying the token to the ADS gRPC
 * service and an UpstreamTlsContext transport socket to `xds_cluster`.
 */
function withXdsAuth(text: string, { xdsTls, xdsToken }: EnvoyConfigValues): string {
  if (!xdsTls && xdsToken === undefined) return text;
  const lines = text.split("\n");
  /** Adds `key: value` as the last entry of the list item whose first line matches `head`. */
  const addEntry = (head: RegExp, what: string, key: string, value: unknown): void => {
    const block = findBlock(lines, head, what);
    const indent = " ".repeat(indentOf(lines[block.start] ?? "") + 2);
    lines.splice(block.end, 0, `${indent}${key}: ${JSON.stringify(value)}`);
  };
  if (xdsToken !== undefined)
    addEntry(/^\s*- envoy_grpc:\s*$/, "the ADS gRPC service", "initial_metadata", [
      { key: "authorization", value: `Bearer ${xdsToken}` },
    ]);
  if (xdsTls) {
    const file = (filename: string): { filename: string } => ({ filename });
    const identity =
      xdsTls.certFile && xdsTls.keyFile
        ? {
            tls_certificates: [
              { certificate_chain: file(xdsTls.certFile), private_key: file(xdsTls.keyFile) },
            ],
          }
        : {};
    addEntry(/^\s*- name: xds_cluster\s*$/, "the xds_cluster", "transport_socket", {
      name: "envoy.transport_sockets.tls",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        ...(xdsTls.sni ? { sni: xdsTls.sni } : {}),
        common_tls_context: {
          validation_context: { trusted_ca: file(xdsTls.caFile) },
          ...identity,
        },
      },
    });
  }
  return lines.join("\n");
}

/**
 * Clones the one endpoint of `xds_cluster` (its only `- endpoint:` item) once per extra port:
 * Envoy then opens its ADS stream to one of the replicas and, when that one dies, re-opens it
 * to another (round robin over the listed hosts).
 */
function withXdsReplicas(text: string, ports: number[]): string {
  if (ports.length === 0) return text;
  const lines = text.split("\n");
  const endpoint = findBlock(lines, /^\s*- endpoint:\s*$/, "the xds_cluster endpoint");
  const clones = ports.flatMap((port) =>
    endpoint.lines.map((line) => line.replace(/port_value: \d+/, `port_value: ${port}`)),
  );
  lines.splice(endpoint.end, 0, ...clones);
  return lines.join("\n");
}

/** Replaces `search` and checks it occurred exactly `count` times. */
export function replaceExactly(
  text: string,
  search: string,
  replacement: string,
  count: number,
): string {
  const parts = text.split(search);
  if (parts.length - 1 !== count)
    throw new Error(
      `envoy.yaml: expected ${count} occurrence(s) of "${search}", found ${parts.length - 1}`,
    );
  return parts.join(replacement);
}

/**
 * A YAML list item: the line matching `head` and every following line indented deeper than its
 * dash (blank lines included, trailing blank lines excluded). `end` is exclusive.
 */
function findBlock(
  lines: string[],
  head: RegExp,
  what: string,
): { start: number; end: number; lines: string[] } {
  const starts = lines.flatMap((line, index) => (head.test(line) ? [index] : []));
  if (starts.length !== 1)
    throw new Error(`envoy.yaml: expected one block for ${what}, found ${starts.length}`);
  const [start = 0] = starts;
  const indent = indentOf(lines[start] ?? "");
  const inside = (line = ""): boolean => line.trim() === "" || indentOf(line) > indent;
  const blank = (line = ""): boolean => line.trim() === "";
  let end = start + 1;
  while (end < lines.length && inside(lines[end])) end++;
  while (end > start + 1 && blank(lines[end - 1])) end--;
  return { start, end, lines: lines.slice(start, end) };
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

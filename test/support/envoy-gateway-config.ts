import { readFileSync } from "node:fs";
import { ENVOY_YAML_PATH, replaceExactly } from "./envoy-config.ts";

/** The values tests substitute in envoy.yaml (the lines marked "tests:" there). */
export interface GatewayBootstrapValues {
  nodeId: string;
  adminPort: number;
  xdsPort: number;
  /** Port of a Zipkin collector on 127.0.0.1 (the static cluster zipkin_collector). */
  zipkinPort?: number;
  /** The node's view: its `consul-services` metadata (a list of patterns); all when absent. */
  services?: string[];
}

/**
 * The shipped envoy.yaml (a bootstrap naming only the bridge) with its node id, admin port and
 * the bridge's xDS port replaced; fits `startEnvoy({ bootstrap })`. The gateway listener's port
 * is the bridge's `--gateway-port`, not in this file. Throws when a marker is missing.
 */
export function gatewayBootstrap(
  values: GatewayBootstrapValues,
  yaml = readFileSync(ENVOY_YAML_PATH, "utf8"),
): string {
  let text = yaml;
  text = replaceExactly(text, "id: envoy-local", `id: ${JSON.stringify(values.nodeId)}`, 1);
  text = replaceExactly(text, "port_value: 9901", `port_value: ${values.adminPort}`, 1);
  text = replaceExactly(text, "port_value: 18000", `port_value: ${values.xdsPort}`, 1);
  if (values.services !== undefined) {
    const view = `\n  metadata:\n    consul-services: ${JSON.stringify(values.services)}\n`;
    text = replaceExactly(text, "\n  cluster: edge\n", `\n  cluster: edge${view}`, 1);
  }
  if (values.zipkinPort !== undefined)
    text = replaceExactly(text, "port_value: 9411", `port_value: ${values.zipkinPort}`, 1);
  return text;
}

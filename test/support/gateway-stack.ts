import {
  startBridgeProcess,
  type BridgeProcess,
  type BridgeProcessOptions,
} from "./bridge-process.ts";
import { gatewayBootstrap } from "./envoy-gateway-config.ts";
import { startEnvoy, type EnvoyProxy } from "./envoy-proxy.ts";
import { freePort } from "./free-port.ts";

/** A bridge process serving its gateway listener (`--gateway-port`) on a free loopback port. */
export interface GatewayBridge extends BridgeProcess {
  readonly gatewayPort: number;
}

/** Starts the bridge with `--gateway-port` on a free port and `--gateway-host=127.0.0.1`. */
export async function startGatewayBridge(options: BridgeProcessOptions): Promise<GatewayBridge> {
  const gatewayPort = await freePort();
  const bridge = await startBridgeProcess({
    ...options,
    extraArgs: [
      `--gateway-port=${gatewayPort}`,
      "--gateway-host=127.0.0.1",
      ...(options.extraArgs ?? []),
    ],
  });
  return Object.assign(bridge, { gatewayPort });
}

/** Options of {@link startGatewayEnvoy}. */
export interface GatewayEnvoyOptions {
  /** Port of a Zipkin collector on 127.0.0.1. */
  zipkinPort?: number;
  /** Changes the bootstrap after its values are replaced (e.g. to ask for delta xDS). */
  edit?: (yaml: string) => string;
}

/** Starts Envoy on the shipped envoy.yaml, fed by `bridge`; `request()` goes to its gateway. */
export function startGatewayEnvoy(
  bridge: GatewayBridge,
  options: GatewayEnvoyOptions = {},
): Promise<EnvoyProxy> {
  const edit = options.edit ?? ((yaml: string) => yaml);
  return startEnvoy({
    xdsPort: bridge.xdsPort,
    bootstrap: (values) => edit(gatewayBootstrap({ ...values, zipkinPort: options.zipkinPort })),
    listenerPort: bridge.gatewayPort,
  });
}

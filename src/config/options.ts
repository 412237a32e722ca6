import { CONSUL_OPTIONS } from "./consul.ts";
import { DNS_OPTIONS } from "./dns.ts";
import { ROUTING_OPTIONS } from "./routing.ts";
import { SHIM_OPTIONS } from "./shim.ts";
import { XDS_AUTH_OPTIONS } from "./xds-auth.ts";

/** The bridge's options: defaults, and the table of flags and environment names behind --help. */

export const DEFAULT_XDS_PORT = 18000;
export const DEFAULT_HTTP_PORT = 5000;
export const DEFAULT_BIND_HOST = "0.0.0.0";
/** The shim and status page stay on loopback unless a host is given (whoever reaches the shim steers traffic). */
export const DEFAULT_HTTP_HOST = "127.0.0.1";
export const DEFAULT_SERVICE = "myservice";
export const DEFAULT_CHECK_INTERVAL_SECONDS = 5;
export const DEFAULT_DEREGISTER_CRITICAL_AFTER_SECONDS = 60;
export const DEFAULT_KEEPALIVE_TIME_MS = 30_000;
export const DEFAULT_MAX_CONNECTION_AGE_MS = 30 * 60_000;
export const DEFAULT_LOG_LEVEL = "info";
export const DEFAULT_CHECK_GRACE_SECONDS = 30;

/** One option: its flag, its environment variable, and its description for --help. */
export interface OptionSpec {
  flag: string;
  env?: string;
  /** An older environment name still read, with a deprecation notice. */
  deprecatedEnv?: string;
  short?: string;
  description: string;
  boolean?: boolean;
  /** A switch that may stand alone, meaning true (`--consul-ssl`), or carry a value (`--consul-ssl=false`). */
  valueOptional?: boolean;
}

export const OPTIONS = {
  config: {
    flag: "config",
    env: "BRIDGE_CONFIG",
    description:
      'JSON file of options keyed by flag name ({"xds-port": 18000}); flags and environment win',
  },
  ...CONSUL_OPTIONS,
  xdsHost: {
    flag: "xds-host",
    env: "BRIDGE_XDS_HOST",
    deprecatedEnv: "XDS_HOST",
    description: `address the xDS server binds (default ${DEFAULT_BIND_HOST})`,
  },
  xdsPort: {
    flag: "xds-port",
    env: "BRIDGE_XDS_PORT",
    deprecatedEnv: "XDS_PORT",
    description: `xDS gRPC port (default ${DEFAULT_XDS_PORT})`,
  },
  httpHost: {
    flag: "http-host",
    env: "BRIDGE_HTTP_HOST",
    deprecatedEnv: "HTTP_HOST",
    description: `address the shim and status page bind (default ${DEFAULT_HTTP_HOST})`,
  },
  httpPort: {
    flag: "http-port",
    env: "BRIDGE_HTTP_PORT",
    deprecatedEnv: "HTTP_PORT",
    description: `shim HTTP port (default ${DEFAULT_HTTP_PORT})`,
  },
  shimToken: {
    flag: "shim-token",
    env: "BRIDGE_SHIM_TOKEN",
    description: "token required on shim calls (default: none)",
  },
  defaultService: {
    flag: "default-service",
    env: "BRIDGE_DEFAULT_SERVICE",
    description: `service for shim calls naming none (default ${DEFAULT_SERVICE})`,
  },
  checkInterval: {
    flag: "check-interval",
    env: "BRIDGE_CHECK_INTERVAL",
    description: `TCP check interval of shim registrations in seconds (default ${DEFAULT_CHECK_INTERVAL_SECONDS})`,
  },
  deregisterAfter: {
    flag: "deregister-critical-after",
    env: "BRIDGE_DEREGISTER_CRITICAL_AFTER",
    description: `seconds a critical shim registration lives, >= 60 (default ${DEFAULT_DEREGISTER_CRITICAL_AFTER_SECONDS})`,
  },
  warningAs: {
    flag: "warning-as",
    env: "BRIDGE_WARNING_AS",
    description: "Envoy status for Consul warning: healthy|degraded (default healthy)",
  },
  criticalAs: {
    flag: "critical-as",
    env: "BRIDGE_CRITICAL_AS",
    description: "Envoy status for Consul critical: unhealthy|omit (default unhealthy)",
  },
  checkGrace: {
    flag: "check-grace",
    env: "BRIDGE_CHECK_GRACE",
    description: `seconds a previously healthy check may stay in its agent start-up default (critical, never run) before it counts, when Consul does not report the check's interval; 0 = no hold (default ${DEFAULT_CHECK_GRACE_SECONDS})`,
  },
  keepalive: {
    flag: "xds-keepalive-ms",
    env: "BRIDGE_XDS_KEEPALIVE_MS",
    description: `gRPC keepalive ping interval (default ${DEFAULT_KEEPALIVE_TIME_MS})`,
  },
  maxConnectionAge: {
    flag: "xds-max-connection-age-ms",
    env: "BRIDGE_XDS_MAX_CONNECTION_AGE_MS",
    description: `gRPC max connection age, lets Envoys rebalance (default ${DEFAULT_MAX_CONNECTION_AGE_MS})`,
  },
  ...XDS_AUTH_OPTIONS,
  ...SHIM_OPTIONS,
  ...ROUTING_OPTIONS,
  ...DNS_OPTIONS,
  logLevel: {
    flag: "log-level",
    env: "BRIDGE_LOG_LEVEL",
    deprecatedEnv: "LOG_LEVEL",
    description: `pino log level (default ${DEFAULT_LOG_LEVEL})`,
  },
  logFormat: {
    flag: "log-format",
    env: "BRIDGE_LOG_FORMAT",
    description:
      "pretty (one readable line per event) or json (one JSON object per line); default pretty on a terminal, json otherwise",
  },
  help: { flag: "help", short: "h", description: "print this help", boolean: true },
  version: { flag: "version", description: "print the version", boolean: true },
} satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/** The --help text. */
export function usage(): string {
  const lines = Object.values(OPTIONS).map((spec: OptionSpec) => {
    const env = spec.env ? ` [env ${spec.env}]` : "";
    return `  --${spec.flag.padEnd(28)} ${spec.description}${env}`;
  });
  return `usage: consul-xds-bridge [options]\n${lines.join("\n")}`;
}

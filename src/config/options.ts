import { CONSUL_OPTIONS } from "./consul.ts";
import { DNS_OPTIONS } from "./dns.ts";
import type { OptionSpec } from "./option-spec.ts";
import { ROUTING_OPTIONS } from "./routing.ts";
import { SHIM_OPTIONS } from "./shim.ts";
import { XDS_AUTH_OPTIONS } from "./xds-auth.ts";

/** The bridge's options: defaults, and the table of flags and environment names behind --help. */

export type { OptionGroup, OptionSpec } from "./option-spec.ts";
export { OPTION_GROUPS } from "./option-spec.ts";

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
/** Most resource names one xDS stream may subscribe to, all types together. */
export const DEFAULT_XDS_MAX_NAMES = 100_000;
/** Most xDS worker processes (`--xds-workers`). */
export const MAX_XDS_WORKERS = 64;
export const DEFAULT_LOG_LEVEL = "info";
export const DEFAULT_CHECK_GRACE_SECONDS = 30;
/** Consul's `warning` reaches Envoy as HEALTHY unless told otherwise (docs/architecture.md §3). */
export const DEFAULT_WARNING_AS = "healthy";
/** Consul's `critical` reaches Envoy as UNHEALTHY unless told otherwise (docs/architecture.md §3). */
export const DEFAULT_CRITICAL_AS = "unhealthy";

/**
 * Every option, in --help order within its group. An entry carries its flag, its environment
 * name, its group and description, and, when it takes a value, a placeholder and either a
 * `default` (a DEFAULT_* constant) or `whenUnset` (what its absence means); option-spec.ts
 * checks the shape.
 */
export const OPTIONS = {
  config: {
    flag: "config",
    env: "BRIDGE_CONFIG",
    group: "general",
    placeholder: "FILE",
    description:
      'JSON file of options keyed by flag name ({"xds-port": 18000}); flags and environment win',
    whenUnset: "no file",
  },
  ...CONSUL_OPTIONS,
  xdsHost: {
    flag: "xds-host",
    env: "BRIDGE_XDS_HOST",
    deprecatedEnv: "XDS_HOST",
    group: "xds",
    placeholder: "HOST",
    description: "address the xDS server binds",
    default: DEFAULT_BIND_HOST,
  },
  xdsPort: {
    flag: "xds-port",
    env: "BRIDGE_XDS_PORT",
    deprecatedEnv: "XDS_PORT",
    group: "xds",
    placeholder: "PORT",
    description: "xDS gRPC port",
    default: DEFAULT_XDS_PORT,
  },
  httpHost: {
    flag: "http-host",
    env: "BRIDGE_HTTP_HOST",
    deprecatedEnv: "HTTP_HOST",
    group: "http",
    placeholder: "HOST",
    description: "address the shim and status page bind (anywhere but loopback: set --shim-token)",
    default: DEFAULT_HTTP_HOST,
  },
  httpPort: {
    flag: "http-port",
    env: "BRIDGE_HTTP_PORT",
    deprecatedEnv: "HTTP_PORT",
    group: "http",
    placeholder: "PORT",
    description: "port of the shim, the status page and /metrics",
    default: DEFAULT_HTTP_PORT,
  },
  shimToken: {
    flag: "shim-token",
    env: "BRIDGE_SHIM_TOKEN",
    group: "shim",
    placeholder: "TOKEN",
    description: "token required on shim calls (Authorization: Bearer or X-Bridge-Token)",
    whenUnset: "none",
  },
  defaultService: {
    flag: "default-service",
    env: "BRIDGE_DEFAULT_SERVICE",
    group: "shim",
    placeholder: "NAME",
    description: "service for shim calls naming none",
    default: DEFAULT_SERVICE,
  },
  checkInterval: {
    flag: "check-interval",
    env: "BRIDGE_CHECK_INTERVAL",
    group: "shim",
    placeholder: "SECONDS",
    description: "TCP check interval of shim registrations, 1-3600",
    default: DEFAULT_CHECK_INTERVAL_SECONDS,
  },
  deregisterAfter: {
    flag: "deregister-critical-after",
    env: "BRIDGE_DEREGISTER_CRITICAL_AFTER",
    group: "shim",
    placeholder: "SECONDS",
    description: "how long a critical shim registration lives, 60-86400",
    default: DEFAULT_DEREGISTER_CRITICAL_AFTER_SECONDS,
  },
  warningAs: {
    flag: "warning-as",
    env: "BRIDGE_WARNING_AS",
    group: "health",
    placeholder: "healthy|degraded",
    description: "Envoy status for Consul's warning",
    default: DEFAULT_WARNING_AS,
  },
  criticalAs: {
    flag: "critical-as",
    env: "BRIDGE_CRITICAL_AS",
    group: "health",
    placeholder: "unhealthy|omit",
    description: "Envoy status for Consul's critical (omit: the endpoint is left out)",
    default: DEFAULT_CRITICAL_AS,
  },
  checkGrace: {
    flag: "check-grace",
    env: "BRIDGE_CHECK_GRACE",
    group: "health",
    placeholder: "SECONDS",
    description:
      "how long a previously healthy check may stay in its agent start-up default (critical, never run) before it counts, when Consul does not report the check's interval; 0: no hold",
    default: DEFAULT_CHECK_GRACE_SECONDS,
  },
  keepalive: {
    flag: "xds-keepalive-ms",
    env: "BRIDGE_XDS_KEEPALIVE_MS",
    group: "xds",
    placeholder: "MS",
    description: "gRPC keepalive ping interval",
    default: DEFAULT_KEEPALIVE_TIME_MS,
  },
  maxConnectionAge: {
    flag: "xds-max-connection-age-ms",
    env: "BRIDGE_XDS_MAX_CONNECTION_AGE_MS",
    group: "xds",
    placeholder: "MS",
    description: "gRPC max connection age, lets Envoys rebalance",
    default: DEFAULT_MAX_CONNECTION_AGE_MS,
  },
  xdsMaxNames: {
    flag: "xds-max-names",
    env: "BRIDGE_XDS_MAX_NAMES",
    group: "xds",
    placeholder: "N",
    description:
      "most resource names one xDS stream may subscribe to, all types together, 1-10000000; a stream asking for more is ended with RESOURCE_EXHAUSTED",
    default: DEFAULT_XDS_MAX_NAMES,
  },
  xdsWorkers: {
    flag: "xds-workers",
    env: "BRIDGE_XDS_WORKERS",
    group: "xds",
    placeholder: "N",
    description:
      "processes serving the xDS port, 1-64; one more watches Consul and builds the resources. 1 serves xDS from the single process",
    whenUnset: "the number of cores the process may use (its CPU affinity and CPU quota)",
  },
  ...XDS_AUTH_OPTIONS,
  ...SHIM_OPTIONS,
  ...ROUTING_OPTIONS,
  ...DNS_OPTIONS,
  logLevel: {
    flag: "log-level",
    env: "BRIDGE_LOG_LEVEL",
    deprecatedEnv: "LOG_LEVEL",
    group: "logging",
    placeholder: "LEVEL",
    description: "pino log level: fatal, error, warn, info, debug, trace or silent",
    default: DEFAULT_LOG_LEVEL,
  },
  logFormat: {
    flag: "log-format",
    env: "BRIDGE_LOG_FORMAT",
    group: "logging",
    placeholder: "pretty|json",
    description: "pretty (one readable line per event) or json (one JSON object per line)",
    whenUnset: "pretty on a terminal, json otherwise",
  },
  help: {
    flag: "help",
    short: "h",
    group: "general",
    description: "print this help",
    boolean: true,
  },
  version: { flag: "version", group: "general", description: "print the version", boolean: true },
} satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

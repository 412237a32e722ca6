import { parseArgs } from "node:util";
import {
  CONSUL_OPTIONS,
  readConsulConfig,
  type ConsulConfig,
  type ConsulOption,
} from "./consul.ts";
import { readDnsConfig, type DnsConfig } from "./dns.ts";
import { readConfigFile } from "./file.ts";
import { readRoutingConfig, type RoutingConfig } from "./routing.ts";
import { readShimConfig, type ShimConfig } from "./shim.ts";
import { readXdsAuth, type XdsTlsConfig } from "./xds-auth.ts";
import { closestName } from "./suggest.ts";
import { usableCores } from "./usable-cores.ts";
import { readInteger } from "./values.ts";
import { SERVICE_NAME_PATTERN } from "../model/names.ts";

/** How log lines are written: readable lines for a terminal, or JSON lines for a collector. */
export const LOG_FORMATS = ["pretty", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
import {
  DEFAULT_XDS_PORT,
  DEFAULT_HTTP_PORT,
  DEFAULT_BIND_HOST,
  DEFAULT_HTTP_HOST,
  DEFAULT_SERVICE,
  DEFAULT_CHECK_INTERVAL_SECONDS,
  DEFAULT_DEREGISTER_CRITICAL_AFTER_SECONDS,
  DEFAULT_KEEPALIVE_TIME_MS,
  DEFAULT_MAX_CONNECTION_AGE_MS,
  DEFAULT_XDS_MAX_NAMES,
  MAX_XDS_WORKERS,
  DEFAULT_LOG_LEVEL,
  DEFAULT_CHECK_GRACE_SECONDS,
  DEFAULT_WARNING_AS,
  DEFAULT_CRITICAL_AS,
  OPTIONS,
  type OptionName,
  type OptionSpec,
} from "./options.ts";

/** The defaults and the option table (options.ts), and the --help text (usage.ts). */
export * from "./options.ts";
export { COMMAND, usage } from "./usage.ts";

/** How a Consul `warning` status reaches Envoy (docs/architecture.md §3). */
export type WarningMapping = "healthy" | "degraded";
/** How a Consul `critical` status reaches Envoy (docs/architecture.md §3). */
export type CriticalMapping = "unhealthy" | "omit";

export type { ConsulConfig } from "./consul.ts";
export {
  DEFAULT_CONSUL_ADDR,
  DEFAULT_MAX_CONSUL_CONNECTIONS,
  DEFAULT_WAIT_SECONDS,
} from "./consul.ts";

/** The gRPC xDS server. */
export interface XdsConfig {
  host: string;
  port: number;
  keepaliveTimeMs: number;
  maxConnectionAgeMs: number;
  /** Most resource names one stream may subscribe to; more ends it with RESOURCE_EXHAUSTED. */
  maxNames: number;
  /**
   * Processes serving the xDS port (docs/architecture.md §5, "xDS workers"); 1 serves it from the
   * process that watches Consul.
   */
  workers: number;
  /** TLS (mutual when it has a client CA), read from PEM files at start; plaintext if undefined. */
  tls: XdsTlsConfig | undefined;
  /** Bearer token every xDS stream must carry; none if undefined. */
  token: string | undefined;
}

/** The HTTP shim (`/edsservice/*`) and status endpoints. */
export interface HttpConfig {
  host: string;
  port: number;
  /** When set, shim calls must carry it (`Authorization: Bearer …` or `X-Bridge-Token`). */
  token: string | undefined;
  /** Service a shim registration joins when it names none (the original's cluster). */
  defaultService: string;
  /** Interval of the TCP check given to shim registrations, in seconds. */
  checkIntervalSeconds: number;
  /** A registration whose check stays critical this long is removed by Consul, in seconds. */
  deregisterCriticalAfterSeconds: number;
}

/** Translation rules from Consul health to Envoy health. */
export interface HealthConfig {
  warning: WarningMapping;
  critical: CriticalMapping;
}

/** How the Consul watch treats what it reads. */
export interface WatchConfig {
  /**
   * Longest time a previously healthy check may stay in its agent start-up default (critical,
   * not yet run) before it counts, when Consul does not report its interval; 0: no hold.
   */
  checkGraceSeconds: number;
}

/** Everything the bridge reads at start, once. */
export interface BridgeConfig {
  consul: ConsulConfig;
  xds: XdsConfig;
  http: HttpConfig;
  health: HealthConfig;
  watch: WatchConfig;
  /** What the shim accepts (reserved names, addresses) and how much it queues. */
  shim: ShimConfig;
  /** Which services become clusters and routes; the gateway listener. */
  routing: RoutingConfig;
  /** Services resolved from DNS names, merged with the catalog's. */
  dns: DnsConfig;
  logLevel: string;
  /** How log lines are written; undefined: pretty on a terminal, JSON otherwise. */
  logFormat: LogFormat | undefined;
}

/** Consul's ParseBool spellings (and yes/no): the words a switch takes as a separate argument. */
const BOOLEAN_WORD = /^(1|t|true|yes|0|f|false|no)$/i;

/** Raised when the configuration is invalid; lists every problem found. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
}

/** Result of {@link parseConfig}: a configuration, or a request for help. */
export type ParsedConfig =
  | { help: true }
  /** `--version`: print it and exit; like help, no configuration is read. */
  | { help: true; version: true }
  | {
      help: false;
      config: BridgeConfig;
      /** Notices for the log: deprecated environment names, values ignored. */
      warnings: string[];
    };

/**
 * Reads flags (which win) and environment once, validates every value and returns the typed
 * configuration. Throws {@link ConfigError} naming every bad value.
 */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): ParsedConfig {
  const problems: string[] = [];
  const parseOptions = Object.fromEntries(
    Object.values(OPTIONS).map((spec: OptionSpec) => [
      spec.flag,
      {
        type: spec.boolean || spec.valueOptional ? ("boolean" as const) : ("string" as const),
        ...(spec.short ? { short: spec.short } : {}),
      },
    ]),
  );
  // Not strict: an unknown flag must not hide the other flags' problems.
  const { values, tokens } = parseArgs({
    args: argv,
    options: parseOptions,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const known = new Map(Object.values(OPTIONS).map((spec: OptionSpec) => [spec.flag, spec]));
  // A switch's value: `--consul-ssl=false`, `--consul-ssl false`, or alone for true.
  const switches = new Map<string, string>();
  const taken = new Set<number>();
  for (const token of tokens) {
    if (token.kind === "positional" && !taken.has(token.index))
      problems.push(`unexpected argument ${JSON.stringify(token.value)}`);
    if (token.kind !== "option") continue;
    const spec = known.get(token.name);
    const next = tokens.find((other) => other.index === token.index + 1);
    const word = token.value === undefined && next?.kind === "positional" ? next : undefined;
    if (spec?.valueOptional) {
      const separate = word && BOOLEAN_WORD.test(word.value) ? word : undefined;
      if (separate) taken.add(separate.index);
      switches.set(token.name, token.value ?? separate?.value ?? "true");
    } else if (!spec) {
      problems.push(unknownOption(token.rawName, token.name, known.keys()));
      // `--xds-prot 18001`: the word is the unknown option's value, not a stray argument.
      if (word) taken.add(word.index);
    } else if (!spec.boolean && token.value === undefined)
      problems.push(`${token.rawName} needs a value`);
    else if (spec.boolean && token.value !== undefined)
      problems.push(`${token.rawName} takes no value`);
  }
  const flags = values as Record<string, string | boolean | undefined>;
  if (flags.help === true) return { help: true };
  if (flags.version === true) return { help: true, version: true };
  const warnings: string[] = [];
  const fileName = typeof flags.config === "string" ? flags.config : env.BRIDGE_CONFIG;
  const fromFile = fileName
    ? readConfigFile(
        {
          value: fileName,
          source: typeof flags.config === "string" ? "--config" : "BRIDGE_CONFIG",
        },
        new Set(
          [...known.values()]
            .filter((spec) => !spec.boolean && spec.flag !== "config")
            .map((spec) => spec.flag),
        ),
        problems,
      )
    : new Map<string, { value: string; source: string }>();

  const fromEnv = (spec: OptionSpec): { value: string; source: string } | undefined => {
    const value = spec.env ? env[spec.env] : undefined;
    if (value !== undefined && (value !== "" || spec.emptyIsValue) && spec.env)
      return { value, source: spec.env };
    const old = spec.deprecatedEnv ? env[spec.deprecatedEnv] : undefined;
    if (old === undefined || old === "" || !spec.deprecatedEnv) return undefined;
    // Kubernetes injects XDS_PORT=tcp://10.0.0.1:18000 for a Service named xds: not ours.
    if (/^[a-z]+:\/\//i.test(old)) {
      warnings.push(
        `${spec.deprecatedEnv}=${old} ignored: looks like a Kubernetes service variable; use ${spec.env}`,
      );
      return undefined;
    }
    warnings.push(`${spec.deprecatedEnv} is deprecated: use ${spec.env}`);
    return { value: old, source: spec.deprecatedEnv };
  };
  /** Flags win over the environment, the environment over the --config file. */
  const raw = (name: OptionName): { value: string; source: string } | undefined => {
    const spec: OptionSpec = OPTIONS[name];
    const flag = spec.valueOptional ? switches.get(spec.flag) : flags[spec.flag];
    if (typeof flag === "string") return { value: flag, source: `--${spec.flag}` };
    const given = fromEnv(spec);
    return given ?? fromFile.get(spec.flag);
  };
  const text = (name: OptionName, fallback: string): string => raw(name)?.value ?? fallback;
  const optional = (name: OptionName): string | undefined => raw(name)?.value;
  const integer = (name: OptionName, fallback: number, min: number, max: number): number =>
    readInteger(raw(name), fallback, min, max, problems);
  const choice = <T extends string>(name: OptionName, allowed: readonly T[], fallback: T): T => {
    const given = raw(name);
    if (!given) return fallback;
    if ((allowed as readonly string[]).includes(given.value)) return given.value as T;
    problems.push(`${given.source}=${given.value}: expected one of ${allowed.join(", ")}`);
    return fallback;
  };
  const host = (name: OptionName, fallback = DEFAULT_BIND_HOST): string => {
    const value = text(name, fallback);
    if (!/^[A-Za-z0-9.:[\]-]{1,253}$/.test(value)) {
      problems.push(`${raw(name)?.source}=${value}: not a host name or IP address`);
    }
    return value;
  };

  const serviceName = text("defaultService", DEFAULT_SERVICE);
  if (!SERVICE_NAME_PATTERN.test(serviceName)) {
    problems.push(`default service ${JSON.stringify(serviceName)}: letters, digits, _ and - only`);
  }
  const logLevel = choice(
    "logLevel",
    ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const,
    DEFAULT_LOG_LEVEL,
  );

  const logFormat = raw("logFormat") ? choice("logFormat", LOG_FORMATS, "json") : undefined;

  const config: BridgeConfig = {
    consul: readConsulConfig(
      Object.fromEntries(
        (Object.keys(CONSUL_OPTIONS) as ConsulOption[]).map((name) => [name, raw(name)]),
      ),
      problems,
    ),
    xds: {
      host: host("xdsHost"),
      port: integer("xdsPort", DEFAULT_XDS_PORT, 0, 65535),
      keepaliveTimeMs: integer("keepalive", DEFAULT_KEEPALIVE_TIME_MS, 1000, 3_600_000),
      maxConnectionAgeMs: integer(
        "maxConnectionAge",
        DEFAULT_MAX_CONNECTION_AGE_MS,
        1000,
        86_400_000,
      ),
      maxNames: integer("xdsMaxNames", DEFAULT_XDS_MAX_NAMES, 1, 10_000_000),
      workers: integer("xdsWorkers", Math.min(usableCores(), MAX_XDS_WORKERS), 1, MAX_XDS_WORKERS),
      ...readXdsAuth(
        {
          xdsTlsCert: raw("xdsTlsCert"),
          xdsTlsKey: raw("xdsTlsKey"),
          xdsClientCa: raw("xdsClientCa"),
          xdsToken: raw("xdsToken"),
          xdsTokenFile: raw("xdsTokenFile"),
        },
        problems,
      ),
    },
    http: {
      host: host("httpHost", DEFAULT_HTTP_HOST),
      port: integer("httpPort", DEFAULT_HTTP_PORT, 0, 65535),
      token: optional("shimToken"),
      defaultService: serviceName,
      checkIntervalSeconds: integer("checkInterval", DEFAULT_CHECK_INTERVAL_SECONDS, 1, 3600),
      deregisterCriticalAfterSeconds: integer(
        "deregisterAfter",
        DEFAULT_DEREGISTER_CRITICAL_AFTER_SECONDS,
        60,
        86_400,
      ),
    },
    shim: readShimConfig(
      {
        shimReservedServices: raw("shimReservedServices"),
        shimAllowNetworks: raw("shimAllowNetworks"),
        shimMultiAddress: raw("shimMultiAddress"),
        shimQueueLimit: raw("shimQueueLimit"),
        shimLookupTimeout: raw("shimLookupTimeout"),
      },
      serviceName,
      problems,
    ),
    routing: readRoutingConfig(
      {
        services: raw("services"),
        clusterGrace: raw("clusterGrace"),
        routeConfigName: raw("routeConfigName"),
        gatewayPort: raw("gatewayPort"),
        gatewayHost: raw("gatewayHost"),
        gatewayDefaultService: raw("gatewayDefaultService"),
        gatewayZipkin: raw("gatewayZipkin"),
      },
      serviceName,
      problems,
    ),
    dns: readDnsConfig(
      {
        dnsServices: raw("dnsServices"),
        dnsServer: raw("dnsServer"),
        dnsMinTtl: raw("dnsMinTtl"),
        dnsMaxTtl: raw("dnsMaxTtl"),
        dnsMerge: raw("dnsMerge"),
      },
      problems,
    ),
    health: {
      warning: choice("warningAs", ["healthy", "degraded"] as const, DEFAULT_WARNING_AS),
      critical: choice("criticalAs", ["unhealthy", "omit"] as const, DEFAULT_CRITICAL_AS),
    },
    watch: {
      checkGraceSeconds: integer("checkGrace", DEFAULT_CHECK_GRACE_SECONDS, 0, 3600),
    },
    logLevel,
    logFormat,
  };
  if (config.xds.port !== 0 && config.xds.port === config.http.port) {
    problems.push(`xDS port and HTTP port are both ${config.xds.port}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { help: false, config, warnings };
}

/** `unknown option --xds-prot; did you mean --xds-port?`, the hint only for a likely typo. */
function unknownOption(rawName: string, name: string, flags: Iterable<string>): string {
  const closest = rawName.startsWith("--") ? closestName(name, flags) : undefined;
  return `unknown option ${rawName}${closest ? `; did you mean --${closest}?` : ""}`;
}

import { readConsulTls, type ConsulTlsConfig } from "./consul-tls.ts";
import type { OptionSpec } from "./option-spec.ts";
import { readGivenFile, readInteger, type GivenValue } from "./values.ts";

export type { ConsulTlsConfig } from "./consul-tls.ts";

/** Where and how to reach Consul's HTTP API. */
export interface ConsulConfig {
  /** Host and port of a TCP address; `localhost` and 0 for a unix socket. */
  host: string;
  port: number;
  secure: boolean;
  /** Set for a `unix:///path` address. */
  socketPath?: string;
  /** PEM file with the CA that signed Consul's certificate (also in `tls.ca`). */
  caCertFile: string | undefined;
  /** TLS settings; undefined means Node's defaults (system CAs, verification on). */
  tls?: ConsulTlsConfig;
  token: string | undefined;
  /** Where the token came from, for messages (`CONSUL_HTTP_TOKEN_FILE=/path`); never the token. */
  tokenSource?: string;
  /** Longest `wait` of a blocking query, in seconds (Consul caps it at 600). */
  waitSeconds: number;
  /** Reads may be answered by any server (`?stale`). */
  stale: boolean;
  /** With `stale`: an answer whose X-Consul-LastContact exceeds this is read again from the leader. */
  maxStaleSeconds?: number;
  /** Targeted service reads use the agent cache (`?cached`). */
  cached?: boolean;
  /** Upper bound on concurrent HTTP connections to Consul. */
  maxConnections: number;
  /**
   * Longest wait for the next byte of an answer's body once it has begun; past it the read fails
   * and is retried. Default {@link DEFAULT_PROGRESS_TIMEOUT_SECONDS}.
   */
  progressTimeoutSeconds?: number;
  /** Other datacenters watched through the same agent (`?dc=`), in failover order; none: []. */
  datacenters?: string[];
}

export const DEFAULT_CONSUL_ADDR = "127.0.0.1:8500";
export const DEFAULT_WAIT_SECONDS = 300;
export const DEFAULT_MAX_CONSUL_CONNECTIONS = 6;
export const DEFAULT_PROGRESS_TIMEOUT_SECONDS = 15;

/**
 * The Consul options, in the shape of the option table (option-spec.ts); env names are Consul's
 * own. The switches are `valueOptional`: alone they mean true, `=false` (any ParseBool spelling)
 * still works.
 */
export const CONSUL_OPTIONS = {
  consulAddr: {
    flag: "consul-addr",
    env: "CONSUL_HTTP_ADDR",
    group: "consul",
    placeholder: "ADDR",
    description: "Consul HTTP address: [http[s]://]HOST[:PORT] or unix:///PATH",
    default: DEFAULT_CONSUL_ADDR,
  },
  consulToken: {
    flag: "consul-token",
    env: "CONSUL_HTTP_TOKEN",
    group: "consul",
    placeholder: "TOKEN",
    description: "ACL token sent as X-Consul-Token",
    whenUnset: "Consul's anonymous token",
  },
  consulTokenFile: {
    flag: "consul-token-file",
    env: "CONSUL_HTTP_TOKEN_FILE",
    group: "consul",
    placeholder: "FILE",
    description: "file holding the ACL token; wins over the token, as in Consul's CLI",
    whenUnset: "none",
  },
  consulSsl: {
    flag: "consul-ssl",
    valueOptional: true,
    env: "CONSUL_HTTP_SSL",
    group: "consul",
    placeholder: "BOOL",
    description: "use HTTPS to Consul (as does an https:// address)",
    default: false,
  },
  consulSslVerify: {
    flag: "consul-ssl-verify",
    valueOptional: true,
    env: "CONSUL_HTTP_SSL_VERIFY",
    group: "consul",
    placeholder: "BOOL",
    description: "verify Consul's certificate; =false skips it",
    default: true,
  },
  consulCaCert: {
    flag: "consul-cacert",
    env: "CONSUL_CACERT",
    group: "consul",
    placeholder: "FILE",
    description: "PEM CA file for Consul's certificate",
    whenUnset: "the system's CAs",
  },
  consulCaPath: {
    flag: "consul-capath",
    env: "CONSUL_CAPATH",
    group: "consul",
    placeholder: "DIR",
    description: "directory of PEM CA files for Consul's certificate",
    whenUnset: "the system's CAs",
  },
  consulClientCert: {
    flag: "consul-client-cert",
    env: "CONSUL_CLIENT_CERT",
    group: "consul",
    placeholder: "FILE",
    description: "PEM client certificate for Consul's verify_incoming (needs the key)",
    whenUnset: "no client certificate",
  },
  consulClientKey: {
    flag: "consul-client-key",
    env: "CONSUL_CLIENT_KEY",
    group: "consul",
    placeholder: "FILE",
    description: "PEM private key of --consul-client-cert",
    whenUnset: "none",
  },
  consulTlsServerName: {
    flag: "consul-tls-server-name",
    env: "CONSUL_TLS_SERVER_NAME",
    group: "consul",
    placeholder: "NAME",
    description: "server name (SNI) to verify Consul's certificate against",
    whenUnset: "the address's host",
  },
  consulStale: {
    flag: "consul-stale",
    valueOptional: true,
    env: "BRIDGE_CONSUL_STALE",
    group: "consul",
    placeholder: "BOOL",
    description: "allow stale reads from any Consul server",
    default: false,
  },
  consulMaxStale: {
    flag: "consul-max-stale",
    env: "BRIDGE_CONSUL_MAX_STALE",
    group: "consul",
    placeholder: "SECONDS",
    description:
      "with --consul-stale: an answer whose X-Consul-LastContact is longer is read again from the leader, 1-3600",
    whenUnset: "no bound",
  },
  consulCached: {
    flag: "consul-cached",
    valueOptional: true,
    env: "BRIDGE_CONSUL_CACHED",
    group: "consul",
    placeholder: "BOOL",
    description: "read services through the agent cache (?cached)",
    default: false,
  },
  consulWait: {
    flag: "consul-wait",
    env: "BRIDGE_CONSUL_WAIT",
    group: "consul",
    placeholder: "SECONDS",
    description: "blocking query wait, 1-600",
    default: DEFAULT_WAIT_SECONDS,
  },
  consulProgressTimeout: {
    flag: "consul-progress-timeout",
    env: "BRIDGE_CONSUL_PROGRESS_TIMEOUT",
    group: "consul",
    placeholder: "SECONDS",
    description: "a body that stops arriving this long is dropped and read again, 1-300",
    default: DEFAULT_PROGRESS_TIMEOUT_SECONDS,
  },
  consulMaxConns: {
    flag: "consul-max-conns",
    env: "BRIDGE_CONSUL_MAX_CONNS",
    group: "consul",
    placeholder: "N",
    description: "max concurrent connections to Consul, 4-64",
    default: DEFAULT_MAX_CONSUL_CONNECTIONS,
  },
  datacenters: {
    flag: "datacenters",
    env: "BRIDGE_DATACENTERS",
    group: "consul",
    placeholder: "DC,...",
    description:
      "other datacenters to fail over to, in order (dc2,dc3); each takes one of the max connections",
    whenUnset: "the local datacenter only",
  },
} as const satisfies Record<string, OptionSpec>;

/** Key of {@link CONSUL_OPTIONS}. */
export type ConsulOption = keyof typeof CONSUL_OPTIONS;

/** The Consul options that are switches, read with Consul's ParseBool. */
type ConsulSwitch = "consulSsl" | "consulSslVerify" | "consulStale" | "consulCached";

/**
 * Reads every Consul setting with the meaning Consul's CLI gives it: the token file wins over
 * the token, `https://` or CONSUL_HTTP_SSL switch to HTTPS (a CA alone does not), SSL_VERIFY=false
 * skips verification. Files are read here, once; every problem is added to `problems`.
 */
export function readConsulConfig(
  given: Partial<Record<ConsulOption, GivenValue>>,
  problems: string[],
): ConsulConfig {
  const bool = (option: ConsulSwitch): boolean =>
    parseBool(given[option], CONSUL_OPTIONS[option].default, problems);
  const integer = (option: ConsulOption, fallback: number, min: number, max: number): number =>
    readInteger(given[option], fallback, min, max, problems);
  const address = parseConsulAddress(given.consulAddr, bool("consulSsl"), problems);
  const tls = readConsulTls(given, bool("consulSslVerify"), problems);
  const stale = bool("consulStale");
  const maxStale = given.consulMaxStale;
  if (maxStale && !stale) problems.push(`${maxStale.source} needs --consul-stale`);
  const token = readToken(given, problems);
  const maxConnections = integer("consulMaxConns", DEFAULT_MAX_CONSUL_CONNECTIONS, 4, 64);
  const datacenters = readDatacenters(given.datacenters, problems);
  checkBudget(maxConnections, datacenters, problems);
  return {
    ...address,
    caCertFile: given.consulCaCert?.value,
    tls,
    token: token?.value,
    tokenSource: token?.source,
    waitSeconds: integer("consulWait", DEFAULT_WAIT_SECONDS, 1, 600),
    stale,
    maxStaleSeconds: maxStale ? integer("consulMaxStale", 0, 1, 3600) : undefined,
    cached: bool("consulCached"),
    maxConnections,
    progressTimeoutSeconds: integer(
      "consulProgressTimeout",
      DEFAULT_PROGRESS_TIMEOUT_SECONDS,
      1,
      300,
    ),
    datacenters,
  };
}

/**
 * The connection budget (docs/architecture.md §3): three blocking queries for the local
 * datacenter, one per other datacenter, and at least one for targeted reads, shared by all.
 */
function checkBudget(maxConnections: number, datacenters: string[], problems: string[]): void {
  const needed = 3 + datacenters.length + 1;
  if (needed > maxConnections) {
    problems.push(
      `--datacenters ${datacenters.join(",")} needs --consul-max-conns of at least ${needed} (3 + ${datacenters.length} blocking queries + 1 read)`,
    );
  }
}

/** A comma-separated list of datacenter names (Consul's: letters, digits, `-`, `_`), no repeats. */
function readDatacenters(value: GivenValue | undefined, problems: string[]): string[] {
  if (!value) return [];
  const names = value.value
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  const bad = names.filter((name) => !/^[A-Za-z0-9_-]{1,64}$/.test(name));
  if (bad.length > 0) {
    problems.push(`${value.source}=${value.value}: not a datacenter name: ${bad.join(", ")}`);
    return [];
  }
  return [...new Set(names)];
}

/** Consul's ParseBool spellings, plus yes/no. */
function parseBool(value: GivenValue | undefined, fallback: boolean, problems: string[]): boolean {
  if (!value) return fallback;
  const text = value.value.toLowerCase();
  if (["1", "t", "true", "yes"].includes(text)) return true;
  if (["0", "f", "false", "no"].includes(text)) return false;
  problems.push(`${value.source}=${value.value}: expected true or false`);
  return fallback;
}

/** Parses `[http[s]://]HOST[:PORT]` or `unix:///PATH` (Consul's CONSUL_HTTP_ADDR forms). */
export function parseConsulAddress(
  given: GivenValue | undefined,
  sslFlag: boolean,
  problems: string[],
): Pick<ConsulConfig, "host" | "port" | "secure" | "socketPath"> {
  const value = given?.value ?? DEFAULT_CONSUL_ADDR;
  const source = given?.source ?? "consul address";
  if (value.startsWith("unix://")) {
    const socketPath = value.slice("unix://".length);
    if (!socketPath.startsWith("/")) {
      problems.push(`${source}=${value}: expected unix:///ABSOLUTE/PATH`);
    }
    return { host: "localhost", port: 0, secure: sslFlag, socketPath };
  }
  const match = /^(?:(https?):\/\/)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/.exec(
    value,
  );
  const port = match?.[3] === undefined ? (match?.[1] === "https" ? 8501 : 8500) : Number(match[3]);
  if (!match || port < 1 || port > 65535) {
    problems.push(`${source}=${value}: expected [http[s]://]HOST:PORT or unix:///PATH`);
    return { host: "127.0.0.1", port: 8500, secure: false };
  }
  const host = (match[2] ?? "").replace(/^\[|\]$/g, "");
  return { host, port, secure: match[1] === "https" || sslFlag };
}

function readToken(
  given: Partial<Record<ConsulOption, GivenValue>>,
  problems: string[],
): GivenValue | undefined {
  const file = given.consulTokenFile;
  if (file) {
    const content = readGivenFile(file, problems)?.toString("utf8").trim();
    // As in Consul's client: an empty file falls back to the token.
    if (content) return { value: content, source: `${file.source}=${file.value}` };
  }
  const inline = given.consulToken;
  return inline && { value: inline.value, source: inline.source };
}

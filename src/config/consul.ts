import { X509Certificate } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { readInteger, type GivenValue } from "./values.ts";

/** TLS towards Consul's HTTPS API, with file contents read once at start. */
export interface ConsulTlsConfig {
  /** CA certificates (CONSUL_CACERT and every file of CONSUL_CAPATH); system CAs when undefined. */
  ca: Buffer[] | undefined;
  /** Client certificate and key for Consul's `verify_incoming` (mutual TLS). */
  cert: Buffer | undefined;
  key: Buffer | undefined;
  /** Name checked against the server certificate (SNI) instead of the address's host. */
  serverName: string | undefined;
  /** False (CONSUL_HTTP_SSL_VERIFY=false) accepts any server certificate. */
  verify: boolean;
}

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
  /** Other datacenters watched through the same agent (`?dc=`), in failover order; none: []. */
  datacenters?: string[];
}

export const DEFAULT_CONSUL_ADDR = "127.0.0.1:8500";
export const DEFAULT_WAIT_SECONDS = 300;
export const DEFAULT_MAX_CONSUL_CONNECTIONS = 6;

/**
 * The Consul options, in the shape of config.ts's option table; env names are Consul's own. The
 * switches are `valueOptional`: alone they mean true, `=false` (any ParseBool spelling) still works.
 */
export const CONSUL_OPTIONS = {
  consulAddr: {
    flag: "consul-addr",
    env: "CONSUL_HTTP_ADDR",
    description: `Consul HTTP address: [http[s]://]HOST[:PORT] or unix:///PATH (default ${DEFAULT_CONSUL_ADDR})`,
  },
  consulToken: {
    flag: "consul-token",
    env: "CONSUL_HTTP_TOKEN",
    description: "ACL token sent as X-Consul-Token",
  },
  consulTokenFile: {
    flag: "consul-token-file",
    env: "CONSUL_HTTP_TOKEN_FILE",
    description: "file holding the ACL token; wins over the token, as in Consul's CLI",
  },
  consulSsl: {
    flag: "consul-ssl",
    valueOptional: true,
    env: "CONSUL_HTTP_SSL",
    description: "use HTTPS to Consul (alone: true; or =true/false)",
  },
  consulSslVerify: {
    flag: "consul-ssl-verify",
    valueOptional: true,
    env: "CONSUL_HTTP_SSL_VERIFY",
    description: "verify Consul's certificate (alone: true; =false skips it; default true)",
  },
  consulCaCert: {
    flag: "consul-cacert",
    env: "CONSUL_CACERT",
    description: "PEM CA file for Consul's certificate",
  },
  consulCaPath: {
    flag: "consul-capath",
    env: "CONSUL_CAPATH",
    description: "directory of PEM CA files for Consul's certificate",
  },
  consulClientCert: {
    flag: "consul-client-cert",
    env: "CONSUL_CLIENT_CERT",
    description: "PEM client certificate for Consul's verify_incoming (needs the key)",
  },
  consulClientKey: {
    flag: "consul-client-key",
    env: "CONSUL_CLIENT_KEY",
    description: "PEM private key of --consul-client-cert",
  },
  consulTlsServerName: {
    flag: "consul-tls-server-name",
    env: "CONSUL_TLS_SERVER_NAME",
    description: "server name (SNI) to verify Consul's certificate against",
  },
  consulStale: {
    flag: "consul-stale",
    valueOptional: true,
    env: "BRIDGE_CONSUL_STALE",
    description: "allow stale reads from any Consul server (alone: true; default false)",
  },
  consulMaxStale: {
    flag: "consul-max-stale",
    env: "BRIDGE_CONSUL_MAX_STALE",
    description:
      "with --consul-stale: seconds of X-Consul-LastContact past which an answer is read again from the leader (default: no bound)",
  },
  consulCached: {
    flag: "consul-cached",
    valueOptional: true,
    env: "BRIDGE_CONSUL_CACHED",
    description: "read services through the agent cache, ?cached (alone: true; default false)",
  },
  consulWait: {
    flag: "consul-wait",
    env: "BRIDGE_CONSUL_WAIT",
    description: `blocking query wait in seconds, 1-600 (default ${DEFAULT_WAIT_SECONDS})`,
  },
  consulMaxConns: {
    flag: "consul-max-conns",
    env: "BRIDGE_CONSUL_MAX_CONNS",
    description: `max concurrent connections to Consul, 4-64 (default ${DEFAULT_MAX_CONSUL_CONNECTIONS})`,
  },
  datacenters: {
    flag: "datacenters",
    env: "BRIDGE_DATACENTERS",
    description:
      "other datacenters to fail over to, in order (dc2,dc3); each takes one of the max connections",
  },
} as const;

/** Key of {@link CONSUL_OPTIONS}. */
export type ConsulOption = keyof typeof CONSUL_OPTIONS;

/**
 * Reads every Consul setting with the meaning Consul's CLI gives it: the token file wins over
 * the token, `https://` or CONSUL_HTTP_SSL switch to HTTPS (a CA alone does not), SSL_VERIFY=false
 * skips verification. Files are read here, once; every problem is added to `problems`.
 */
export function readConsulConfig(
  given: Partial<Record<ConsulOption, GivenValue>>,
  problems: string[],
): ConsulConfig {
  const bool = (option: ConsulOption, fallback: boolean): boolean =>
    parseBool(given[option], fallback, problems);
  const integer = (option: ConsulOption, fallback: number, min: number, max: number): number =>
    readInteger(given[option], fallback, min, max, problems);
  const address = parseConsulAddress(given.consulAddr, bool("consulSsl", false), problems);
  const tls = readTls(given, bool("consulSslVerify", true), problems);
  const stale = bool("consulStale", false);
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
    cached: bool("consulCached", false),
    maxConnections,
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

function readTls(
  given: Partial<Record<ConsulOption, GivenValue>>,
  verify: boolean,
  problems: string[],
): ConsulTlsConfig | undefined {
  const { consulCaCert, consulCaPath, consulClientCert, consulClientKey } = given;
  if (consulClientCert && !consulClientKey)
    problems.push(`${consulClientCert.source} needs --consul-client-key (CONSUL_CLIENT_KEY)`);
  if (consulClientKey && !consulClientCert)
    problems.push(`${consulClientKey.source} needs --consul-client-cert (CONSUL_CLIENT_CERT)`);
  const ca: Buffer[] = [];
  if (consulCaCert) {
    const pem = readGivenFile(consulCaCert, problems);
    if (pem) ca.push(...checkCertificates(consulCaCert, pem, problems));
  }
  if (consulCaPath) ca.push(...readCaDirectory(consulCaPath, problems));
  const serverName = given.consulTlsServerName?.value;
  const anything = ca.length > 0 || consulClientCert || serverName !== undefined || !verify;
  if (!anything) return undefined;
  return {
    ca: ca.length > 0 ? ca : undefined,
    cert: consulClientCert && readGivenFile(consulClientCert, problems),
    key: consulClientKey && readGivenFile(consulClientKey, problems),
    serverName,
    verify,
  };
}

/** Every regular file of the directory, as Consul's CAPath does; each must hold certificates. */
function readCaDirectory(dir: GivenValue, problems: string[]): Buffer[] {
  let names: string[];
  try {
    names = readdirSync(dir.value).sort();
  } catch (error) {
    problems.push(`${dir.source}=${dir.value}: cannot read the directory (${errorCode(error)})`);
    return [];
  }
  const found: Buffer[] = [];
  for (const name of names) {
    const path = join(dir.value, name);
    if (!statSync(path, { throwIfNoEntry: false })?.isFile()) continue;
    const file = { value: path, source: dir.source };
    const pem = readGivenFile(file, problems);
    if (pem) found.push(...checkCertificates(file, pem, problems));
  }
  if (found.length === 0 && names.length === 0)
    problems.push(`${dir.source}=${dir.value}: no CA file in the directory`);
  return found;
}

function checkCertificates(file: GivenValue, pem: Buffer, problems: string[]): Buffer[] {
  try {
    new X509Certificate(pem);
    return [pem];
  } catch (error) {
    problems.push(
      `${file.source}=${file.value}: not a PEM certificate (${(error as Error).message})`,
    );
    return [];
  }
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

function readGivenFile(file: GivenValue, problems: string[]): Buffer | undefined {
  try {
    return readFileSync(file.value);
  } catch (error) {
    problems.push(`${file.source}=${file.value}: cannot read the file (${errorCode(error)})`);
    return undefined;
  }
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

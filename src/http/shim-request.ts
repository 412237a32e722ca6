import { isIP, isIPv4, isIPv6 } from "node:net";
import { formatHostPort, SERVICE_NAME_PATTERN } from "../model/names.ts";
import { canonicalAddress } from "../model/network-address.ts";
import { HostLookupError, type HostResolver } from "./resolve-host.ts";
import { topLevelKeys } from "./json-keys.ts";

/** Longest query string a shim GET may carry, in characters. */
export const MAX_QUERY_LENGTH = 1024;
/** Largest JSON body a shim POST may carry, in bytes. */
export const MAX_BODY_BYTES = 4096;
/** Longest host (a DNS name is at most 253 characters). */
export const MAX_HOST_LENGTH = 253;

/** One thing wrong with a request: where (`endpoint.port`) and what. */
export interface Problem {
  path: string;
  message: string;
}

/** A value, or every problem found while reading it. */
export type Validation<T> = { ok: true; value: T } | { ok: false; problems: Problem[] };

/** What the host of a shim request is. */
export type HostKind = "ipv4" | "ipv6" | "name";

/** A well-formed shim request, before its host is resolved. */
export interface ShimRequest {
  service: string;
  /**
   * An IP literal in canonical form (IPv6 without brackets, IPv4-mapped IPv6 as IPv4) or a
   * lower-case DNS name.
   */
  host: string;
  hostKind: HostKind;
  port: number;
  /** Where the host came from (`endpoint.host` or `host`), for problems found later. */
  hostPath: string;
}

/** A shim request whose host is resolved to IP literals, ready to register. */
export interface ResolvedShimRequest extends ShimRequest {
  /**
   * The IP literals to register, canonical, without duplicates: xDS clients such as gRPC reject
   * non-IP addresses. One for an IP literal; a name's IPv4 addresses, or its IPv6 ones if it has
   * no IPv4 address.
   */
  addresses: string[];
  /** `HOST:PORT` as the request named it (IPv6 in brackets), for answers. */
  endpoint: string;
}

const QUERY_PARAMETERS = ["endpoint", "service"];
const BODY_PROPERTIES = ["endpoint", "host", "port", "service"];
const PORT_MESSAGE = "must be an integer 1-65535";
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Resolver codes that mean the name has no address (bad input), not that lookups failed. */
const NOT_FOUND_CODES = ["ENOTFOUND", "ENODATA", "EAI_NONAME", "EAI_NODATA", "ENONAME"];

/** Reads `endpoint=HOST:PORT[&service=NAME]` (the raw query string, without `?`). */
export function parseShimQuery(query: string, defaultService: string): Validation<ShimRequest> {
  if (query.length > MAX_QUERY_LENGTH) {
    return fail([{ path: "query", message: `longer than ${MAX_QUERY_LENGTH} characters` }]);
  }
  const problems: Problem[] = [];
  const params = new URLSearchParams(query);
  const counts = new Map<string, number>();
  for (const key of params.keys()) counts.set(key, (counts.get(key) ?? 0) + 1);
  for (const [key, count] of counts) {
    if (!QUERY_PARAMETERS.includes(key)) {
      problems.push({ path: shorten(key), message: unknownMessage("parameter", QUERY_PARAMETERS) });
    } else if (count > 1) {
      problems.push({ path: key, message: `given ${count} times; give it once` });
    }
  }
  const endpoint = params.get("endpoint");
  const parsed =
    endpoint === null
      ? problem("endpoint", "required (HOST:PORT)", problems)
      : parseEndpoint(endpoint, "endpoint", problems);
  const service = params.get("service");
  const serviceName = checkService(service ?? defaultService, "service", problems);
  return finish(problems, parsed && serviceName ? { ...parsed, service: serviceName } : undefined);
}

/** Reads a JSON body `{"endpoint":"HOST:PORT","service":"NAME"}` or `{"host","port","service"}`. */
export function parseShimBody(text: string, defaultService: string): Validation<ShimRequest> {
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    return fail([{ path: "body", message: `larger than ${MAX_BODY_BYTES} bytes` }]);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return fail([{ path: "body", message: `not valid JSON (${(error as Error).message})` }]);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return fail([{ path: "body", message: "must be a JSON object" }]);
  }
  const fields = body as Record<string, unknown>;
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const key of topLevelKeys(text)) {
    if (!BODY_PROPERTIES.includes(key)) {
      if (!seen.has(key)) {
        problems.push({ path: shorten(key), message: unknownMessage("property", BODY_PROPERTIES) });
      }
    } else if (seen.has(key)) {
      problems.push({ path: key, message: "given more than once; give it once" });
    }
    seen.add(key);
  }

  const has = (key: string): boolean => Object.hasOwn(fields, key);
  let parsed: Omit<ShimRequest, "service"> | undefined;
  if (has("endpoint")) {
    if (has("host") || has("port")) {
      problems.push({
        path: "endpoint",
        message: "give either endpoint or host and port, not both",
      });
    }
    parsed =
      typeof fields.endpoint === "string"
        ? parseEndpoint(fields.endpoint, "endpoint", problems)
        : problem("endpoint", "must be a string HOST:PORT", problems);
  } else if (!has("host") && !has("port")) {
    problems.push({ path: "endpoint", message: "required: give endpoint, or host and port" });
  } else {
    const host = has("host")
      ? typeof fields.host === "string"
        ? checkBodyHost(fields.host, problems)
        : problem("host", "must be a string", problems)
      : problem("host", "required with port", problems);
    const port = has("port")
      ? checkPortNumber(fields.port, "port", problems)
      : problem("port", "required with host", problems);
    if (host && port !== undefined) parsed = { ...host, port, hostPath: "host" };
  }

  let serviceName: string | undefined = defaultService;
  if (has("service")) {
    serviceName =
      typeof fields.service === "string"
        ? checkService(fields.service, "service", problems)
        : problem("service", "must be a string", problems);
  }
  return finish(problems, parsed && serviceName ? { ...parsed, service: serviceName } : undefined);
}

/**
 * Turns a DNS name into the IP literals to register with `resolve` (IP literals pass through
 * without a lookup): its IPv4 addresses when it has any, else its IPv6 ones, so a dual-stack
 * name such as `localhost` is one instance. A resolver failure other than "no such name"
 * (a timeout, a busy resolver) is thrown, not returned as a problem: it is not bad input.
 */
export async function resolveShimRequest(
  request: ShimRequest,
  resolve: HostResolver,
): Promise<Validation<ResolvedShimRequest>> {
  const endpoint = formatHostPort(request.host, request.port);
  if (request.hostKind !== "name") {
    return { ok: true, value: { ...request, addresses: [request.host], endpoint } };
  }
  let found: string[];
  try {
    found = await resolve(request.host);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && NOT_FOUND_CODES.includes(code)) {
      return fail([{ path: request.hostPath, message: `does not resolve (${code})` }]);
    }
    if (error instanceof HostLookupError) throw error;
    const reason = typeof code === "string" ? code : (error as Error).message;
    const message = `the lookup of ${request.host} failed (${reason})`;
    throw new HostLookupError("failed", message, { cause: error });
  }
  const ips = [...new Set(found.filter((a) => isIP(a) !== 0).map((a) => canonicalAddress(a)))];
  const ipv4 = ips.filter((address) => isIPv4(address));
  const addresses = ipv4.length > 0 ? ipv4 : ips;
  if (addresses.length === 0) {
    return fail([{ path: request.hostPath, message: "does not resolve to an IP address" }]);
  }
  return { ok: true, value: { ...request, addresses, endpoint } };
}

function parseEndpoint(
  text: string,
  path: string,
  problems: Problem[],
): Omit<ShimRequest, "service"> | undefined {
  const hostPath = `${path}.host`;
  const portPath = `${path}.port`;
  let host: { host: string; hostKind: HostKind } | undefined;
  let portText: string | undefined;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) return problem(hostPath, "missing ] after an IPv6 address", problems);
    host = checkHost(text.slice(1, close), hostPath, problems, true);
    const rest = text.slice(close + 1);
    if (rest.startsWith(":")) portText = rest.slice(1);
    else if (rest !== "") return problem(path, "expected :PORT after ]", problems);
  } else {
    const colon = text.lastIndexOf(":");
    const hostText = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
    host = hostText.includes(":")
      ? problem(hostPath, "an IPv6 address must be in brackets, e.g. [::1]:8080", problems)
      : checkHost(hostText, hostPath, problems);
  }
  const port =
    portText === undefined
      ? problem(portPath, "required (HOST:PORT)", problems)
      : checkPortText(portText, portPath, problems);
  return host && port !== undefined ? { ...host, port, hostPath } : undefined;
}

/** An IP literal or DNS name; a host containing `:` (or any host when `ipv6Only`) must be IPv6. */
function checkHost(
  host: string,
  path: string,
  problems: Problem[],
  ipv6Only = false,
): { host: string; hostKind: HostKind } | undefined {
  if (host === "") return problem(path, "required", problems);
  if (host.length > MAX_HOST_LENGTH) {
    return problem(path, `longer than ${MAX_HOST_LENGTH} characters`, problems);
  }
  if (ipv6Only || host.includes(":")) {
    if (host.includes("%") || !isIPv6(host)) {
      return problem(path, "not an IPv6 address (zone IDs are not accepted)", problems);
    }
    const canonical = canonicalAddress(host);
    return { host: canonical, hostKind: isIPv4(canonical) ? "ipv4" : "ipv6" };
  }
  if (isIPv4(host)) return { host: canonicalAddress(host), hostKind: "ipv4" };
  if (/^[\d.]+$/.test(host)) return problem(path, "not a valid IPv4 address", problems);
  const name = host.toLowerCase().replace(/\.$/, "");
  const labels = name.split(".");
  if (!labels.every((label) => DNS_LABEL.test(label)) || /^\d+$/.test(labels.at(-1) ?? "")) {
    return problem(path, "not an IP address or a valid DNS name", problems);
  }
  return { host: name, hostKind: "name" };
}

function checkPortText(text: string, path: string, problems: Problem[]): number | undefined {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  return port >= 1 && port <= 65535 ? port : problem(path, PORT_MESSAGE, problems);
}

function checkPortNumber(value: unknown, path: string, problems: Problem[]): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 65535
    ? value
    : problem(path, PORT_MESSAGE, problems);
}

function checkService(name: string, path: string, problems: Problem[]): string | undefined {
  return SERVICE_NAME_PATTERN.test(name)
    ? name
    : problem(
        path,
        "must be 1-63 letters, digits, _ or -, starting with a letter or digit",
        problems,
      );
}

/** The `host` property: an IP literal (IPv6 with or without brackets) or a DNS name. */
function checkBodyHost(host: string, problems: Problem[]): ReturnType<typeof checkHost> {
  const bracketed = host.startsWith("[") && host.endsWith("]");
  return checkHost(bracketed ? host.slice(1, -1) : host, "host", problems, bracketed);
}

function unknownMessage(kind: string, allowed: string[]): string {
  return `unknown ${kind} (expected ${allowed.join(", ")})`;
}

function shorten(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}

function problem(path: string, message: string, problems: Problem[]): undefined {
  problems.push({ path, message });
  return undefined;
}

function fail<T>(problems: Problem[]): Validation<T> {
  return { ok: false, problems };
}

function finish<T>(problems: Problem[], value: T | undefined): Validation<T> {
  if (problems.length > 0 || value === undefined) return fail(problems);
  return { ok: true, value };
}

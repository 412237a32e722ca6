/**
 * Per-service routing settings read from Consul service meta (keys `envoy-*`). Every setting has
 * a default; a value that does not parse is reported and replaced by the default, so a typo in
 * meta never produces a resource that a client would reject.
 */

import {
  DEFAULT_LB_SETTINGS,
  LB_META_KEYS,
  readLbSettings,
  type LbSettings,
} from "./lb-settings.ts";

/** Load-balancing policies a service may ask for. */
export const LB_POLICIES = ["round_robin", "least_request", "ring_hash", "maglev"] as const;
/** A load-balancing policy. */
export type LbPolicy = (typeof LB_POLICIES)[number];

/** Upstream protocols: HTTP/1.1, HTTP/2, or gRPC (HTTP/2 with stream-friendly route defaults). */
export const UPSTREAM_PROTOCOLS = ["http1", "http2", "grpc"] as const;
/** An upstream protocol. */
export type UpstreamProtocol = (typeof UPSTREAM_PROTOCOLS)[number];

/** Envoy's `retry_on` conditions (HTTP and gRPC) accepted in `envoy-retry-on`. */
const RETRY_CONDITIONS = new Set([
  "5xx",
  "gateway-error",
  "reset",
  "reset-before-request",
  "connect-failure",
  "envoy-ratelimited",
  "retriable-4xx",
  "refused-stream",
  "retriable-status-codes",
  "retriable-headers",
  "http3-post-connect-failure",
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
]);

/** Circuit-breaker limits; an unset limit keeps Envoy's default. */
export interface CircuitBreakerLimits {
  maxConnections?: number;
  maxPendingRequests?: number;
  maxRequests?: number;
  maxRetries?: number;
}

/** A retry policy for a service's route. */
export interface RetrySettings {
  numRetries: number;
  retryOn: string;
  perTryTimeoutMs: number | undefined;
}

/** Everything a service's cluster and route are built from (subsets and localities: lb-settings.ts). */
export interface ServiceSettings extends LbSettings {
  connectTimeoutMs: number;
  lbPolicy: LbPolicy;
  protocol: UpstreamProtocol;
  outlierDetection: boolean;
  circuitBreakers: CircuitBreakerLimits;
  /** Path prefix the route matches. */
  routePrefix: string;
  /** Route timeout; 0 disables it; undefined keeps Envoy's default (15 s). */
  routeTimeoutMs: number | undefined;
  /** Set only when `envoy-retries` is at least 1. */
  retry: RetrySettings | undefined;
}

/** A meta value that was ignored, and why. */
export interface MetaProblem {
  key: string;
  value: string;
  reason: string;
}

/** The meta keys, their meaning, default and an example (docs/configuration.md's table is made from it). */
export const SERVICE_META_KEYS = {
  connectTimeout: {
    key: "envoy-connect-timeout",
    meaning: "upstream connect timeout (duration: 250ms, 2s, 1m; a bare number is ms)",
    default: "5s",
    example: "2s",
  },
  lbPolicy: {
    key: "envoy-lb-policy",
    meaning: `load balancing: ${LB_POLICIES.join(", ")} (proxyless gRPC: round_robin, ring_hash)`,
    default: "round_robin",
    example: "least_request",
  },
  protocol: {
    key: "envoy-protocol",
    meaning: "upstream protocol: http1, http2 or grpc (HTTP/2, no route timeout by default)",
    default: "http1",
    example: "grpc",
  },
  outlierDetection: {
    key: "envoy-outlier-detection",
    meaning: "eject hosts after 5 consecutive 5xx for 30s (on/off)",
    default: "off",
    example: "on",
  },
  maxConnections: {
    key: "envoy-max-connections",
    meaning: "circuit breaker: max connections to the service",
    default: "1024 (Envoy's)",
    example: "200",
  },
  maxPendingRequests: {
    key: "envoy-max-pending-requests",
    meaning: "circuit breaker: max requests waiting for a connection",
    default: "1024 (Envoy's)",
    example: "100",
  },
  maxRequests: {
    key: "envoy-max-requests",
    meaning: "circuit breaker: max concurrent requests",
    default: "1024 (Envoy's)",
    example: "500",
  },
  maxRetries: {
    key: "envoy-max-retries",
    meaning: "circuit breaker: max concurrent retries",
    default: "3 (Envoy's)",
    example: "10",
  },
  routePrefix: {
    key: "envoy-route-prefix",
    meaning: "path prefix the service's route matches (other paths get 404)",
    default: "/",
    example: "/api/",
  },
  routeTimeout: {
    key: "envoy-route-timeout",
    meaning: "request timeout (duration; 0 disables)",
    default: "15s (Envoy's); none for grpc",
    example: "30s",
  },
  retries: {
    key: "envoy-retries",
    meaning: "retries per request (0 disables the retry policy)",
    default: "0",
    example: "2",
  },
  retryOn: {
    key: "envoy-retry-on",
    meaning: "comma-separated Envoy retry_on conditions (used when envoy-retries >= 1)",
    default: "connect-failure,refused-stream,reset",
    example: "5xx,reset",
  },
  perTryTimeout: {
    key: "envoy-per-try-timeout",
    meaning: "timeout of each try (duration; used when envoy-retries >= 1)",
    default: "the route timeout",
    example: "1s",
  },
  ...LB_META_KEYS,
} as const;

/** Default connect timeout (Envoy's own default). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Default retry conditions when `envoy-retries` is set. */
export const DEFAULT_RETRY_ON = "connect-failure,refused-stream,reset";
const MAX_DURATION_MS = 24 * 3_600_000;
const MAX_LIMIT = 1_000_000_000;

/** Settings of a service whose meta sets nothing. */
export const DEFAULT_SERVICE_SETTINGS: ServiceSettings = Object.freeze({
  connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
  lbPolicy: "round_robin",
  protocol: "http1",
  outlierDetection: false,
  circuitBreakers: Object.freeze({}),
  routePrefix: "/",
  routeTimeoutMs: undefined,
  retry: undefined,
  ...DEFAULT_LB_SETTINGS,
});

/** What a meta parser gives: the value, or why the text was not accepted. */
type Parsed<T> = { value: T } | { error: string };
type Parser<T> = (text: string) => Parsed<T>;

/** Reads a service's settings from its meta; unparsable values are listed and defaulted. */
export function readServiceSettings(meta: Readonly<Record<string, string>>): {
  settings: ServiceSettings;
  problems: MetaProblem[];
} {
  const problems: MetaProblem[] = [];
  const read = <T>(spec: { key: string }, parse: Parser<T>, fallback: T): T => {
    const value = meta[spec.key];
    if (value === undefined) return fallback;
    const parsed = parse(value.trim());
    if ("value" in parsed) return parsed.value;
    problems.push({ key: spec.key, value, reason: parsed.error });
    return fallback;
  };
  const K = SERVICE_META_KEYS;
  const protocol = read<UpstreamProtocol>(K.protocol, oneOf(UPSTREAM_PROTOCOLS), "http1");
  const limit = (spec: { key: string }): number | undefined =>
    read<number | undefined>(spec, integer(1, MAX_LIMIT), undefined);
  const limits: [keyof CircuitBreakerLimits, number | undefined][] = [
    ["maxConnections", limit(K.maxConnections)],
    ["maxPendingRequests", limit(K.maxPendingRequests)],
    ["maxRequests", limit(K.maxRequests)],
    ["maxRetries", limit(K.maxRetries)],
  ];
  const circuitBreakers: CircuitBreakerLimits = {};
  for (const [name, value] of limits) if (value !== undefined) circuitBreakers[name] = value;
  const numRetries = read(K.retries, integer(0, 100), 0);
  const retryOn = read(K.retryOn, retryConditions, DEFAULT_RETRY_ON);
  const perTryTimeoutMs = read<number | undefined>(K.perTryTimeout, duration(1), undefined);
  const settings: Omit<ServiceSettings, keyof LbSettings> = {
    connectTimeoutMs: read(K.connectTimeout, duration(1), DEFAULT_CONNECT_TIMEOUT_MS),
    lbPolicy: read<LbPolicy>(K.lbPolicy, oneOf(LB_POLICIES), "round_robin"),
    protocol,
    outlierDetection: read(K.outlierDetection, onOff, false),
    circuitBreakers,
    routePrefix: read(K.routePrefix, pathPrefix, "/"),
    // gRPC streams may live long: no route timeout unless the service asks for one.
    routeTimeoutMs: read<number | undefined>(
      K.routeTimeout,
      duration(0),
      protocol === "grpc" ? 0 : undefined,
    ),
    retry: numRetries > 0 ? { numRetries, retryOn, perTryTimeoutMs } : undefined,
  };
  const lb = readLbSettings(meta);
  problems.push(...lb.problems);
  return { settings: { ...settings, ...lb.settings }, problems };
}

function oneOf<T extends string>(allowed: readonly T[]): Parser<T> {
  return (text) =>
    (allowed as readonly string[]).includes(text)
      ? { value: text as T }
      : { error: `expected one of ${allowed.join(", ")}` };
}

function integer(min: number, max: number): Parser<number> {
  return (text) => {
    const n = Number(text);
    return /^\d+$/.test(text) && n >= min && n <= max
      ? { value: n }
      : { error: `expected an integer from ${min} to ${max}` };
  };
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** A duration such as `250ms`, `1.5s`, `2m`, `1h`, or a bare number of milliseconds. */
function duration(minMs: number): Parser<number> {
  return (text) => {
    const match = DURATION.exec(text);
    const ms = match ? Math.round(Number(match[1]) * (UNIT_MS[match[2] ?? "ms"] ?? NaN)) : NaN;
    return ms >= minMs && ms <= MAX_DURATION_MS
      ? { value: ms }
      : { error: `expected a duration from ${minMs}ms to 24h (e.g. 250ms, 2s, 1m)` };
  };
}

function onOff(text: string): Parsed<boolean> {
  const lower = text.toLowerCase();
  if (["on", "true", "yes", "1"].includes(lower)) return { value: true };
  if (["off", "false", "no", "0"].includes(lower)) return { value: false };
  return { error: "expected on or off" };
}

function pathPrefix(text: string): Parsed<string> {
  return /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/.test(text)
    ? { value: text }
    : { error: "expected a path starting with / (URL path characters only)" };
}

function retryConditions(text: string): Parsed<string> {
  const conditions = text.split(",").map((c) => c.trim());
  const unknown = conditions.filter((c) => !RETRY_CONDITIONS.has(c));
  return unknown.length === 0
    ? { value: conditions.join(",") }
    : { error: `unknown retry condition ${unknown.map((c) => JSON.stringify(c)).join(", ")}` };
}

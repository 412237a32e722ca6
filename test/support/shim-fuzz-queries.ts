/** Shim requests refused for what their query says: hostile addresses, bad names, bad encodings. */
import type { Rng } from "./seeded-rng.ts";
import type { FuzzRequest, FuzzWorld } from "./shim-fuzz-cases.ts";

const HOSTILE: [string, RegExp][] = [
  ["255.255.255.255", /rule: broadcast/],
  ["224.0.0.1", /rule: multicast/],
  ["239.255.255.250", /rule: multicast/],
  ["[ff02::1]", /rule: multicast/],
  ["169.254.169.254", /rule: link-local/],
  ["[fe80::1]", /rule: link-local/],
  ["[::ffff:169.254.169.254]", /rule: link-local/],
  ["0.0.0.0", /rule: unspecified/],
  ["0.1.2.3", /rule: unspecified/],
  ["[::]", /rule: unspecified/],
  ["8.8.8.8", /rule: not-allowed/],
  ["[2001:db8::1]", /rule: not-allowed/],
  ["metadata.test", /resolves to 169\.254\.169\.254/],
  ["public.test", /rule: not-allowed/],
  ["multi.test", /resolves to 3 addresses/],
  ["nowhere.test", /does not resolve/],
];
const BAD_PORTS = [
  "0",
  "65536",
  "-1",
  "abc",
  "",
  "99999999999",
  "80.5",
  "0x50",
  "８０",
  "+80",
  " 80",
];
const BAD_HOSTS = [
  "bad_host",
  "exa mple.com",
  "-lead.com",
  "a..b",
  "127.1",
  "127.000.000.001",
  "256.1.1.1",
  "1.2.3",
  "[::1",
  "[example.com]",
  "[fe80::1%eth0]",
  "[[::1]]",
  "0x7f.0.0.1",
  "ünïcode.com",
  "x".repeat(254),
  `${"a".repeat(64)}.com`,
];
const BAD_SERVICES = [
  "",
  "_x",
  "-x",
  "a.b",
  "a b",
  "a/b",
  "é",
  "名前",
  "a\u0000b",
  "a\u202eb",
  "😀",
];
const RESERVED = ["consul", "CONSUL", "Consul", "vault", "VAULT"];
const FORBIDDEN = [
  ..." !\"#$%&'()*+,./:;<=>?@[\\]^`{|}~",
  "é",
  "ß",
  "名",
  "\u0000",
  "\u202e",
  "😀",
];

/** Generators of GET requests refused for their query, each with the problem it must name. */
export function queryRefusals(rng: Rng, world: FuzzWorld): (() => FuzzRequest)[] {
  const action = (): string => rng.pick(["register", "deregister"]);
  const port = (): number => rng.pick(world.ports);
  const get = (label: string, params: [string, string][], says: RegExp, status = 400) => ({
    label,
    method: "GET",
    path: `/edsservice/${action()}?${params.map(([k, v]) => `${k}=${encode(v)}`).join("&")}`,
    headers: {},
    expect: { kind: "refused" as const, status, says },
  });
  const good = (): [string, string] => ["endpoint", `127.0.0.1:${port()}`];
  return [
    () => {
      const [host, says] = rng.pick(HOSTILE);
      return get(`hostile ${host}`, [["endpoint", `${host}:${port()}`]], says);
    },
    () => {
      const target = rng.pick([
        `127.0.0.1:${world.consulHttpPort}`,
        "127.0.0.1:8500",
        "[::1]:8300",
        "[::ffff:127.0.0.1]:8600",
        "127.9.9.9:8502",
      ]);
      return get(`consul port ${target}`, [["endpoint", target]], /rule: consul-port/);
    },
    () => {
      const bad = rng.pick(BAD_PORTS);
      return get(
        `bad port ${JSON.stringify(bad)}`,
        [["endpoint", `127.0.0.1:${bad}`]],
        /^endpoint\.port: /m,
      );
    },
    () => {
      const bad = rng.pick(BAD_HOSTS);
      return get(
        `bad host ${bad.slice(0, 20)}`,
        [["endpoint", `${bad}:${port()}`]],
        /^endpoint(\.host)?: /m,
      );
    },
    () => {
      const name = rng.pick(RESERVED);
      return get(`reserved ${name}`, [good(), ["service", name]], /^service: ".*" is reserved/m);
    },
    () => {
      const variant = caseVariant(rng, world.pinned);
      const says = new RegExp(
        `^service: Consul already holds this service as "${world.pinned}"`,
        "m",
      );
      return get(`case variant ${variant}`, [good(), ["service", variant]], says);
    },
    () => {
      const name = randomBadService(rng);
      return get(
        `bad service ${JSON.stringify(name.slice(0, 20))}`,
        [good(), ["service", name]],
        /^service: /m,
      );
    },
    () => {
      const name = rng.pick([
        "Endpoint",
        "SERVICE",
        "port",
        "host",
        "id",
        "__proto__",
        "constructor",
        `x${randomText(rng, 6)}`,
      ]);
      const params: [string, string][] = [good(), [name, randomText(rng, 5)]];
      return get(`unknown parameter ${name}`, params, /unknown parameter/);
    },
    () => {
      const params: [string, string][] = rng.chance(0.5)
        ? [good(), good()]
        : [good(), ["service", "alpha"], ["service", "alpha"]];
      return get("duplicate parameter", params, /given 2 times; give it once/);
    },
    () =>
      get(
        "missing endpoint",
        rng.chance(0.5) ? [["service", "alpha"]] : [],
        /^endpoint: required/m,
      ),
    () =>
      get(
        "long query",
        [good(), ["service", "a".repeat(1100 + rng.int(500))]],
        /^query: longer than 1024/m,
      ),
    () => {
      let text: string;
      do text = randomQuery(rng);
      while (/endpoint/i.test(decodeSafely(text)));
      return {
        label: "random query",
        method: "GET",
        path: `/edsservice/${action()}?${text}`,
        headers: {},
        expect: { kind: "refused", status: 400, says: /^invalid request:/ },
      };
    },
    () => {
      const [query, says] = rng.pick<[string, RegExp]>([
        [`endpoint=127.0.0.1%253A${port()}`, /^endpoint\./m],
        [`endpoint=127.0.0.1:${port()}&service=%C0%AE`, /^service: /m],
        [`endpoint=127.0.0.1:${port()}&service=al%ED%A0%80pha`, /^service: /m],
        [`endpoint=127.0.0.1%00:${port()}`, /^endpoint\.host: /m],
        [`endpoint=127.0.0.1:${port()}&service=al+pha`, /^service: /m],
        [`endpoint=127.0.0.1:${port()}%23`, /^endpoint\.port: /m],
        [`endpoint=127.0.0.1:${port()}&&service`, /^service: /m],
      ]);
      return {
        label: `encoding ${query}`,
        method: "GET",
        path: `/edsservice/${action()}?${query}`,
        headers: {},
        expect: { kind: "refused", status: 400, says },
      };
    },
  ];
}

function caseVariant(rng: Rng, name: string): string {
  for (;;) {
    const variant = [...name]
      .map((c) => (rng.chance(0.5) ? c.toUpperCase() : c.toLowerCase()))
      .join("");
    if (variant !== name) return variant;
  }
}

function randomBadService(rng: Rng): string {
  if (rng.chance(0.3)) return rng.pick(BAD_SERVICES);
  if (rng.chance(0.1)) return "s".repeat(64 + rng.int(100));
  const base = randomText(rng, 1 + rng.int(12));
  const at = rng.int(base.length + 1);
  return base.slice(0, at) + rng.pick(FORBIDDEN) + base.slice(at);
}

function randomText(rng: Rng, length: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
  return Array.from({ length }, () => alphabet[rng.int(alphabet.length)]).join("");
}

function randomQuery(rng: Rng): string {
  const bytes = Array.from({ length: 1 + rng.int(48) }, () => rng.int(256));
  return bytes
    .map((b) =>
      b === 0x3d || b === 0x26 || (b >= 0x61 && b <= 0x7a)
        ? String.fromCharCode(b)
        : `%${b.toString(16).padStart(2, "0")}`,
    )
    .join("");
}

function decodeSafely(text: string): string {
  return [...new URLSearchParams(text).keys()].join("&");
}

/** Percent-encodes everything but unreserved characters, so any value travels on the wire. */
function encode(value: string): string {
  return encodeURIComponent(value);
}

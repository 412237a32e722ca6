/** Seeded generation of hostile and random shim requests, each with what it must be answered. */
import { Rng } from "./seeded-rng.ts";
import { queryRefusals } from "./shim-fuzz-queries.ts";
import { post, wireRefusals } from "./shim-fuzz-wire.ts";

/** What an answer must be: a valid change applied to the model, or a refusal. */
export type Expectation =
  | { kind: "valid"; action: "register" | "deregister"; key: string }
  | { kind: "refused"; status: number; says?: RegExp };

/** One request as sent on the wire (raw path, not normalized by any URL parser). */
export interface FuzzRequest {
  label: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  expect: Expectation;
}

/** What the generator needs to know about the shim under test. */
export interface FuzzWorld {
  ports: readonly number[];
  consulHttpPort: number;
  /** A service registered before the run and never touched: its case variants must be refused. */
  pinned: string;
  defaultService: string;
}

const SERVICES = ["alpha", "beta_2", "gamma-x", "d9"];
/** Canonical address → ways of writing it that mean the same instance. */
const SPELLINGS: Record<string, string[]> = {
  "127.0.0.1": [
    "127.0.0.1",
    "[::ffff:127.0.0.1]",
    "[::FFFF:7f00:1]",
    "backend.test",
    "BACKEND.test.",
    "dual.test",
  ],
  "127.0.0.2": ["127.0.0.2", "[::ffff:127.0.0.2]"],
  "::1": ["[::1]", "[0:0:0:0:0:0:0:1]", "[0::1]"],
};
/** Generates `count` requests from `seed`: about one in twelve valid, the rest refused. */
export function generateRequests(seed: number, count: number, world: FuzzWorld): FuzzRequest[] {
  const rng = new Rng(seed);
  const requests: FuzzRequest[] = [];
  const generators = [...queryRefusals(rng, world), ...wireRefusals(rng, world)];
  for (let i = 0; i < count; i++) {
    if (rng.chance(1 / 12)) requests.push(validRequest(rng, world));
    else requests.push(rng.pick(generators)());
  }
  return requests;
}

/** The model key of an instance. */
export function instanceKey(service: string, address: string, port: number): string {
  return `${service}|${address}|${port}`;
}

/** A request the shim must accept, with the instance it is about. */
function validRequest(rng: Rng, world: FuzzWorld): FuzzRequest {
  const action = rng.chance(0.6) ? "register" : "deregister";
  const useDefault = rng.chance(0.15);
  const service = useDefault ? world.defaultService : rng.pick(SERVICES);
  const address = rng.pick(Object.keys(SPELLINGS));
  const written = rng.pick(SPELLINGS[address] ?? []);
  const port = rng.pick(world.ports);
  const expect: Expectation = { kind: "valid", action, key: instanceKey(service, address, port) };
  const label = `valid ${action} ${service} ${written}:${port}`;
  if (rng.chance(0.5)) {
    const params: [string, string][] = [["endpoint", `${written}:${port}`]];
    if (!useDefault) params.push(["service", service]);
    if (rng.chance(0.5)) params.reverse();
    const text = params.map(([k, v]) => `${k}=${encodeLoosely(rng, v)}`).join("&");
    return { label, method: "GET", path: `/edsservice/${action}?${text}`, headers: {}, expect };
  }
  const bareHost = written.startsWith("[") && rng.chance(0.5) ? written.slice(1, -1) : written;
  const body: Record<string, unknown> = rng.chance(0.5)
    ? { endpoint: `${written}:${port}` }
    : { host: bareHost, port };
  if (!useDefault) body.service = service;
  const type = rng.pick([
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
  ]);
  return post(label, `/edsservice/${action}`, JSON.stringify(body), type, expect);
}

/** Encodes a valid value in one of several equivalent ways (`:` raw or escaped, letters escaped). */
function encodeLoosely(rng: Rng, value: string): string {
  const encoded = encodeURIComponent(value);
  if (rng.chance(0.3))
    return encoded.replace(/%3A/g, ":").replace(/%5B/g, "[").replace(/%5D/g, "]");
  if (rng.chance(0.2)) return encoded.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`);
  return encoded;
}

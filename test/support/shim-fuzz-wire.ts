/** Shim requests refused before their content matters: paths, methods, bodies, content types, sizes. */
import type { Rng } from "./seeded-rng.ts";
import type { Expectation, FuzzRequest, FuzzWorld } from "./shim-fuzz-cases.ts";

const PATH_TRICKS = [
  "/edsservice/register/",
  "/edsservice//register",
  "/edsservice/register/../register",
  "/EDSSERVICE/REGISTER",
  "/edsservice/%72egister",
  "/edsservice/register;x=1",
  "//edsservice/register",
  "/edsservice",
  "/edsservice/registerx",
  "/./edsservice/register",
  "/edsservice/register%00",
  "/edsservice/deregister%3F",
];

/** Generators of requests refused on the wire or for their body, each with what it must say. */
export function wireRefusals(rng: Rng, world: FuzzWorld): (() => FuzzRequest)[] {
  const action = (): string => rng.pick(["register", "deregister"]);
  const port = (): number => rng.pick(world.ports);
  return [
    () => ({
      label: "URL over the header limit",
      method: "GET",
      path: `/edsservice/register?endpoint=127.0.0.1:80&service=${"b".repeat(9000)}`,
      headers: {},
      expect: { kind: "refused", status: 431 },
    }),
    () => ({
      label: "path trick",
      method: "GET",
      path: `${rng.pick(PATH_TRICKS)}?endpoint=127.0.0.1:${port()}`,
      headers: {},
      expect: { kind: "refused", status: 404, says: /not found/ },
    }),
    () => {
      const method = rng.pick(["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]);
      return {
        label: `method ${method}`,
        method,
        path: `/edsservice/${action()}?endpoint=127.0.0.1:${port()}`,
        headers: {},
        expect: {
          kind: "refused",
          status: 405,
          ...(method === "HEAD" ? {} : { says: /method not allowed/ }),
        },
      };
    },
    () => {
      const [body, says] = rng.pick(badBodies(port()));
      return post(
        `bad body ${JSON.stringify(body.toString("latin1").slice(0, 30))}`,
        `/edsservice/${action()}`,
        body,
        "application/json",
        { kind: "refused", status: 400, says },
      );
    },
    () => {
      const type = rng.pick([
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
        "application/json-seq",
        "multipart/form-data",
      ]);
      const body = JSON.stringify({ endpoint: `127.0.0.1:${port()}` });
      return post(`content type ${type}`, `/edsservice/${action()}`, body, type, {
        kind: "refused",
        status: 415,
        says: /application\/json/,
      });
    },
    () =>
      post(
        "body over 4096 bytes",
        `/edsservice/${action()}`,
        JSON.stringify({ endpoint: "127.0.0.1:80", service: "c".repeat(5000 + rng.int(5000)) }),
        "application/json",
        { kind: "refused", status: 413, says: /larger than 4096 bytes/ },
      ),
    () =>
      post(
        "POST with a query",
        `/edsservice/${action()}?endpoint=127.0.0.1:${port()}`,
        "{}",
        "application/json",
        { kind: "refused", status: 400, says: /POST takes a JSON body/ },
      ),
  ];
}

function badBodies(port: number): [Buffer, RegExp][] {
  const text = (s: string, says: RegExp): [Buffer, RegExp] => [Buffer.from(s), says];
  return [
    text("", /"path":"body"/),
    text("{", /"path":"body"/),
    text("[1]", /must be a JSON object/),
    text("null", /must be a JSON object/),
    text('"endpoint"', /must be a JSON object/),
    text(`{"endpoint":"127.0.0.1:${port}",}`, /not valid JSON/),
    text(`{"endpoint":"127.0.0.1:${port}","endpoint":"127.0.0.1:${port}"}`, /given more than once/),
    text('{"host":"127.0.0.1"}', /"path":"port","message":"required with host"/),
    text(`{"port":${port}}`, /"path":"host","message":"required with port"/),
    text('{"endpoint":42}', /must be a string HOST:PORT/),
    text(
      `{"__proto__":{},"endpoint":"127.0.0.1:${port}"}`,
      /"path":"__proto__","message":"unknown property/,
    ),
    text(`{"endpoint":"127.0.0.1:${port}","port":${port}}`, /not both/),
    text(`{"host":"::1","port":"${port}"}`, /"path":"port"/),
    text(`{"host":"::1","port":${port}.5}`, /"path":"port"/),
    text(`{"host":"[::1","port":${port}}`, /"path":"host"/),
    text(
      `{"endpoint":"127.0.0.1:${port}","service":null}`,
      /"path":"service","message":"must be a string"/,
    ),
    text(`{"endpoint":"127.0.0.1:${port}","service":"consul"}`, /is reserved/),
    text(`${"[".repeat(1900)}${"]".repeat(1900)}`, /must be a JSON object/),
    [Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), /not valid JSON/],
  ];
}

/** A POST with `body` and `type` (no content-type header when empty). */
export function post(
  label: string,
  path: string,
  body: string | Buffer,
  type: string,
  expect: Expectation,
): FuzzRequest {
  return {
    label,
    method: "POST",
    path,
    headers: type === "" ? {} : { "content-type": type },
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    expect,
  };
}

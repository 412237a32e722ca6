import type { HostResolver } from "../../src/http/resolve-host.ts";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  MAX_BODY_BYTES,
  MAX_QUERY_LENGTH,
  parseShimBody,
  parseShimQuery,
  resolveShimRequest,
  type Problem,
  type ShimRequest,
  type Validation,
} from "../../src/http/shim-request.ts";

const DEFAULT = "myservice";

function value<T>(result: Validation<T>): T {
  assert.ok(result.ok, `expected a valid request, got ${JSON.stringify(result)}`);
  return result.value;
}

function problems<T>(result: Validation<T>): Problem[] {
  assert.ok(!result.ok, `expected problems, got ${JSON.stringify(result)}`);
  return result.problems;
}

function paths<T>(result: Validation<T>): string[] {
  return problems(result)
    .map((p) => p.path)
    .sort();
}

describe("shim query (GET)", () => {
  test("endpoint with an IPv4 host joins the default service", () => {
    assert.deepEqual(value(parseShimQuery("endpoint=127.0.0.1:8081", DEFAULT)), {
      service: "myservice",
      host: "127.0.0.1",
      hostKind: "ipv4",
      port: 8081,
      hostPath: "endpoint.host",
    });
  });

  test("service parameter names the service", () => {
    const request = value(parseShimQuery("endpoint=10.0.0.7:9000&service=billing_v2", DEFAULT));
    assert.equal(request.service, "billing_v2");
    assert.equal(request.port, 9000);
  });

  test("IPv6 host in brackets is accepted and canonicalized", () => {
    const request = value(parseShimQuery("endpoint=[0:0:0:0:0:0:0:1]:8080", DEFAULT));
    assert.equal(request.host, "::1");
    assert.equal(request.hostKind, "ipv6");
    assert.equal(request.port, 8080);
  });

  test("IPv6 host without brackets is rejected with a hint", () => {
    const found = problems(parseShimQuery("endpoint=::1:8080", DEFAULT));
    assert.deepEqual(found, [
      { path: "endpoint.host", message: "an IPv6 address must be in brackets, e.g. [::1]:8080" },
    ]);
  });

  test("an IPv4-mapped IPv6 address is the IPv4 address it maps", () => {
    for (const written of ["[::ffff:127.0.0.1]", "[::FFFF:7f00:1]", "[0:0:0:0:0:ffff:127.0.0.1]"]) {
      const request = value(parseShimQuery(`endpoint=${written}:8080`, DEFAULT));
      assert.equal(request.host, "127.0.0.1", written);
      assert.equal(request.hostKind, "ipv4", written);
    }
    const body = value(parseShimBody('{"host":"::ffff:10.1.2.3","port":80}', DEFAULT));
    assert.deepEqual([body.host, body.hostKind], ["10.1.2.3", "ipv4"]);
  });

  test("IPv6 zone IDs and non-IPv6 text in brackets are rejected", () => {
    assert.deepEqual(paths(parseShimQuery("endpoint=[fe80::1%25eth0]:80", DEFAULT)), [
      "endpoint.host",
    ]);
    assert.deepEqual(paths(parseShimQuery("endpoint=[example.com]:80", DEFAULT)), [
      "endpoint.host",
    ]);
    assert.deepEqual(paths(parseShimQuery("endpoint=[::1:80", DEFAULT)), ["endpoint.host"]);
  });

  test("DNS names are accepted, lower-cased, and kept for resolution", () => {
    const request = value(parseShimQuery("endpoint=Backend-1.Example.com.:8081", DEFAULT));
    assert.equal(request.host, "backend-1.example.com");
    assert.equal(request.hostKind, "name");
  });

  test("every problem is listed with its path, not just the first", () => {
    const found = problems(
      parseShimQuery("endpoint=bad_host!:99999&service=-nope&color=blue", DEFAULT),
    );
    assert.deepEqual(
      found.map((p) => p.path).sort(),
      ["color", "endpoint.host", "endpoint.port", "service"].sort(),
    );
    assert.deepEqual(
      found.find((p) => p.path === "endpoint.port"),
      { path: "endpoint.port", message: "must be an integer 1-65535" },
    );
    assert.match(found.find((p) => p.path === "color")?.message ?? "", /unknown parameter/);
  });

  test("missing endpoint is required", () => {
    assert.deepEqual(problems(parseShimQuery("", DEFAULT)), [
      { path: "endpoint", message: "required (HOST:PORT)" },
    ]);
    assert.deepEqual(paths(parseShimQuery("endpoint=", DEFAULT)), [
      "endpoint.host",
      "endpoint.port",
    ]);
  });

  test("endpoint without a port says the port is required", () => {
    assert.deepEqual(problems(parseShimQuery("endpoint=127.0.0.1", DEFAULT)), [
      { path: "endpoint.port", message: "required (HOST:PORT)" },
    ]);
  });

  test("ports outside 1-65535 or not integers are rejected", () => {
    for (const port of ["0", "65536", "-1", "80.5", "0x50", "", "123456"]) {
      assert.deepEqual(
        paths(parseShimQuery(`endpoint=127.0.0.1:${port}`, DEFAULT)),
        ["endpoint.port"],
        port,
      );
    }
    assert.equal(value(parseShimQuery("endpoint=127.0.0.1:65535", DEFAULT)).port, 65535);
    assert.equal(value(parseShimQuery("endpoint=127.0.0.1:1", DEFAULT)).port, 1);
  });

  test("malformed IPv4 addresses are not mistaken for names", () => {
    const found = problems(parseShimQuery("endpoint=256.1.1.1:80", DEFAULT));
    assert.deepEqual(found, [{ path: "endpoint.host", message: "not a valid IPv4 address" }]);
  });

  test("hosts longer than 253 characters are rejected", () => {
    const long = Array.from({ length: 5 }, () => "a".repeat(60)).join(".");
    assert.equal(long.length, 304);
    assert.match(
      problems(parseShimQuery(`endpoint=${long}:80`, DEFAULT))[0]?.message ?? "",
      /longer than 253/,
    );
    const label64 = `${"a".repeat(64)}.example.com`;
    assert.deepEqual(paths(parseShimQuery(`endpoint=${label64}:80`, DEFAULT)), ["endpoint.host"]);
  });

  test("service names follow ^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$", () => {
    for (const bad of ["", "_x", "a.b", "a b", "a".repeat(64), "ü"]) {
      const query = `endpoint=127.0.0.1:80&service=${encodeURIComponent(bad)}`;
      assert.deepEqual(paths(parseShimQuery(query, DEFAULT)), ["service"], bad);
    }
    const longest = "a".repeat(63);
    assert.equal(
      value(parseShimQuery(`endpoint=127.0.0.1:80&service=${longest}`, DEFAULT)).service,
      longest,
    );
  });

  test("duplicate parameters are rejected", () => {
    const found = problems(
      parseShimQuery("endpoint=127.0.0.1:80&endpoint=127.0.0.1:81&service=a&service=a", DEFAULT),
    );
    assert.deepEqual(found, [
      { path: "endpoint", message: "given 2 times; give it once" },
      { path: "service", message: "given 2 times; give it once" },
    ]);
  });

  test("a query over the size bound is rejected without being parsed", () => {
    const query = `endpoint=127.0.0.1:80&service=${"a".repeat(MAX_QUERY_LENGTH)}`;
    assert.deepEqual(problems(parseShimQuery(query, DEFAULT)), [
      { path: "query", message: `longer than ${MAX_QUERY_LENGTH} characters` },
    ]);
  });
});

describe("shim body (POST)", () => {
  test("endpoint form", () => {
    const request = value(
      parseShimBody('{"endpoint":"127.0.0.1:8081","service":"billing"}', DEFAULT),
    );
    assert.equal(request.host, "127.0.0.1");
    assert.equal(request.port, 8081);
    assert.equal(request.service, "billing");
    assert.equal(request.hostPath, "endpoint.host");
  });

  test("host and port form, IPv6 with or without brackets", () => {
    for (const host of ["::1", "[::1]"]) {
      const request = value(parseShimBody(JSON.stringify({ host, port: 8080 }), DEFAULT));
      assert.equal(request.host, "::1");
      assert.equal(request.hostKind, "ipv6");
      assert.equal(request.service, DEFAULT);
      assert.equal(request.hostPath, "host");
    }
  });

  test("every problem of the host and port form is listed", () => {
    const found = problems(
      parseShimBody('{"host":"bad host","port":"8080","service":7,"extra":true}', DEFAULT),
    );
    assert.deepEqual(found.map((p) => p.path).sort(), ["extra", "host", "port", "service"]);
    assert.deepEqual(
      found.find((p) => p.path === "port"),
      { path: "port", message: "must be an integer 1-65535" },
    );
  });

  test("endpoint together with host and port is a conflict", () => {
    const found = problems(
      parseShimBody('{"endpoint":"127.0.0.1:80","host":"127.0.0.1","port":80}', DEFAULT),
    );
    assert.deepEqual(found, [
      { path: "endpoint", message: "give either endpoint or host and port, not both" },
    ]);
  });

  test("host without port and port without host name the missing part", () => {
    assert.deepEqual(problems(parseShimBody('{"host":"127.0.0.1"}', DEFAULT)), [
      { path: "port", message: "required with host" },
    ]);
    assert.deepEqual(problems(parseShimBody('{"port":80}', DEFAULT)), [
      { path: "host", message: "required with port" },
    ]);
    assert.deepEqual(problems(parseShimBody("{}", DEFAULT)), [
      { path: "endpoint", message: "required: give endpoint, or host and port" },
    ]);
  });

  test("endpoint problems carry endpoint.host and endpoint.port paths", () => {
    assert.deepEqual(paths(parseShimBody('{"endpoint":"[::1]:0"}', DEFAULT)), ["endpoint.port"]);
    assert.deepEqual(paths(parseShimBody('{"endpoint":42}', DEFAULT)), ["endpoint"]);
  });

  test("duplicate properties are rejected even though JSON.parse would keep the last", () => {
    const found = problems(
      parseShimBody('{"endpoint":"127.0.0.1:80", "endpoint" : "10.0.0.1:80"}', DEFAULT),
    );
    assert.deepEqual(found, [{ path: "endpoint", message: "given more than once; give it once" }]);
  });

  test("nested keys and keys inside strings do not count as top-level properties", () => {
    const found = problems(
      parseShimBody(
        '{"endpoint":"127.0.0.1:80","service":"a","x":{"endpoint":"\\"y\\":"}}',
        DEFAULT,
      ),
    );
    assert.deepEqual(
      found.map((p) => p.path),
      ["x"],
    );
  });

  test("invalid JSON, non-objects and oversized bodies are rejected", () => {
    assert.deepEqual(paths(parseShimBody("{", DEFAULT)), ["body"]);
    assert.deepEqual(problems(parseShimBody("[1]", DEFAULT)), [
      { path: "body", message: "must be a JSON object" },
    ]);
    assert.deepEqual(paths(parseShimBody("null", DEFAULT)), ["body"]);
    const big = JSON.stringify({ endpoint: "127.0.0.1:80", service: "a".repeat(MAX_BODY_BYTES) });
    assert.deepEqual(problems(parseShimBody(big, DEFAULT)), [
      { path: "body", message: `larger than ${MAX_BODY_BYTES} bytes` },
    ]);
  });
});

describe("host resolution", () => {
  const request = (host: string, hostKind: ShimRequest["hostKind"]): ShimRequest => ({
    service: "myservice",
    host,
    hostKind,
    port: 8081,
    hostPath: "endpoint.host",
  });
  const never: HostResolver = () => Promise.reject(new Error("must not resolve IP literals"));

  test("IP literals are registered as they are, without a lookup", async () => {
    const resolved = value(await resolveShimRequest(request("::1", "ipv6"), never));
    assert.deepEqual(resolved.addresses, ["::1"]);
    assert.equal(resolved.endpoint, "[::1]:8081");
  });

  test("a DNS name is registered as the IP it resolves to, answered as the name", async () => {
    const resolver: HostResolver = async (name) =>
      name === "backend.test" ? ["not-an-ip", "10.1.2.3"] : [];
    const resolved = value(await resolveShimRequest(request("backend.test", "name"), resolver));
    assert.deepEqual(resolved.addresses, ["10.1.2.3"]);
    assert.equal(resolved.endpoint, "backend.test:8081");
  });

  test("a name's IPv4 addresses are used when it has any, else its IPv6 ones, without duplicates", async () => {
    const answers: Record<string, string[]> = {
      "dual.test": ["127.0.0.1", "::1"],
      "many.test": ["10.0.0.2", "10.0.0.1", "10.0.0.2", "::ffff:10.0.0.1", "fd00::1"],
      "six.test": ["fd00::2", "FD00:0::2", "fd00::1"],
    };
    const resolver: HostResolver = async (name) => answers[name] ?? [];
    const addresses = async (name: string) =>
      value(await resolveShimRequest(request(name, "name"), resolver)).addresses;
    assert.deepEqual(await addresses("dual.test"), ["127.0.0.1"]);
    assert.deepEqual(await addresses("many.test"), ["10.0.0.2", "10.0.0.1"]);
    assert.deepEqual(await addresses("six.test"), ["fd00::2", "fd00::1"]);
  });

  test("a resolver failure that is not 'no such name' is thrown as a lookup error, not a problem", async () => {
    const failing: HostResolver = () =>
      Promise.reject(Object.assign(new Error("getaddrinfo EAI_AGAIN"), { code: "EAI_AGAIN" }));
    await assert.rejects(resolveShimRequest(request("flaky.test", "name"), failing), {
      name: "HostLookupError",
      reason: "failed",
      message: "the lookup of flaky.test failed (EAI_AGAIN)",
    });
  });

  test("a name that does not resolve is a problem at the host's path", async () => {
    const failing: HostResolver = () =>
      Promise.reject(Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" }));
    assert.deepEqual(problems(await resolveShimRequest(request("nx.test", "name"), failing)), [
      { path: "endpoint.host", message: "does not resolve (ENOTFOUND)" },
    ]);
    assert.deepEqual(
      problems(await resolveShimRequest(request("nx.test", "name"), async () => [])),
      [{ path: "endpoint.host", message: "does not resolve to an IP address" }],
    );
  });
});

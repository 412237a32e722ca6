import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  BadConsulAnswerError,
  parseCatalogServices,
  parseHealthCheck,
  parseServiceEntries,
} from "../../src/consul/client/consul-answers.ts";

/** Asserts `run` throws a BadConsulAnswerError whose message matches every pattern. */
function assertBadAnswer(run: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof BadConsulAnswerError, `not a BadConsulAnswerError: ${error}`);
    assert.equal(error.name, "BadConsulAnswerError");
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

const goodEntry = {
  Node: { Node: "node-1", Address: "10.0.0.1" },
  Service: { ID: "web-1", Service: "web", Address: "", Port: 8080 },
  Checks: [],
};

describe("parseCatalogServices", () => {
  it("accepts a map of service to tags, including null tags", () => {
    const body = { consul: [], web: ["v1", "canary"], legacy: null };
    assert.equal(parseCatalogServices(body), body);
  });

  for (const [label, body] of [
    ["a list", []],
    ["null", null],
    ["a string", "web"],
  ] as const) {
    it(`rejects ${label} as the body`, () => {
      assertBadAnswer(() => parseCatalogServices(body), /catalog\/services/, /object/);
    });
  }

  it("rejects tags that are not a list, naming the service", () => {
    assertBadAnswer(() => parseCatalogServices({ web: "v1" }), /catalog\/services/, /web/);
  });
});

describe("parseHealthCheck", () => {
  it("accepts a check", () => {
    const check = { Node: "n1", CheckID: "serfHealth", Status: "passing", ServiceID: "" };
    assert.equal(parseHealthCheck(check, 0), check);
  });

  it("rejects a check without a Status, naming its position", () => {
    assertBadAnswer(
      () => parseHealthCheck({ Node: "n1", CheckID: "b" }, 1),
      /health\/state/,
      /check 1/,
      /Status/,
    );
  });

  it("rejects a check that is not an object", () => {
    assertBadAnswer(() => parseHealthCheck("serfHealth", 0), /check 0/);
  });
});

describe("parseServiceEntries", () => {
  /** What an entry says: its fields that have a value (the compact form leaves others undefined). */
  const said = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

  it("accepts well-formed instances", () => {
    const body = [goodEntry];
    assert.deepEqual(said(parseServiceEntries("web", body)), body);
  });

  it("leaves out what carries nothing: empty tags and meta, default weights, empty definitions", () => {
    const entry = {
      Node: { Node: "node-1", Address: "10.0.0.1", Meta: {} },
      Service: {
        ...goodEntry.Service,
        Tags: [],
        Meta: {},
        Weights: { Passing: 1, Warning: 1 },
      },
      Checks: [{ Node: "node-1", CheckID: "serfHealth", Status: "passing", Definition: {} }],
    };
    assert.deepEqual(said(parseServiceEntries("web", [entry])), [
      {
        Node: { Node: "node-1", Address: "10.0.0.1" },
        Service: goodEntry.Service,
        Checks: [{ Node: "node-1", CheckID: "serfHealth", Status: "passing" }],
      },
    ]);
    const weighted = {
      ...entry.Service,
      Tags: ["v1"],
      Meta: { a: "b" },
      Weights: { Passing: 3, Warning: 1 },
    };
    const kept = parseServiceEntries("web", [{ ...entry, Service: weighted }])[0]!.Service;
    assert.deepEqual(said(kept), weighted);
  });

  it("keeps only the fields the bridge reads, and a check's output only when it is empty", () => {
    const check = (CheckID: string, Status: string) => ({
      Node: "node-1",
      CheckID,
      Status,
      ServiceID: "web-1",
      ServiceName: "web",
    });
    const full = {
      Node: { ID: "n", Node: "node-1", Address: "10.0.0.1", TaggedAddresses: { lan: "10.0.0.1" } },
      Service: { ID: "web-1", Service: "web", Address: "", Port: 80, Proxy: { Expose: {} } },
      Checks: [
        {
          ...check("a", "passing"),
          Output: "HTTP GET http://10.0.0.1/: 200 OK",
          Notes: "n",
          CreateIndex: 3,
          ModifyIndex: 4,
          Definition: { HTTP: "http://10.0.0.1/", Interval: "10s", Header: { A: ["b"] } },
        },
        { ...check("b", "critical"), Output: "", Type: "http" },
      ],
    };
    assert.deepEqual(said(parseServiceEntries("web", [full])), [
      {
        Node: { Node: "node-1", Address: "10.0.0.1" },
        Service: { ID: "web-1", Service: "web", Address: "", Port: 80 },
        Checks: [
          { ...check("a", "passing"), Definition: { Interval: "10s" } },
          { ...check("b", "critical"), Type: "http", Output: "" },
        ],
      },
    ]);
  });

  it("rejects a body that is not a list, naming the service", () => {
    assertBadAnswer(() => parseServiceEntries("web", {}), /health\/service\/web/, /list/);
  });

  it("rejects an instance without Checks, naming its position", () => {
    const withoutChecks: Record<string, unknown> = { ...goodEntry };
    delete withoutChecks.Checks;
    assertBadAnswer(
      () => parseServiceEntries("web", [goodEntry, withoutChecks]),
      /health\/service\/web/,
      /instance 1/,
      /Checks/,
    );
  });

  it("rejects an instance whose Node is not an object", () => {
    assertBadAnswer(
      () => parseServiceEntries("web", [{ ...goodEntry, Node: "node-1" }]),
      /instance 0/,
      /Node/,
    );
  });

  it("rejects an instance with a port that is not a number", () => {
    assertBadAnswer(
      () =>
        parseServiceEntries("api", [
          { ...goodEntry, Service: { ...goodEntry.Service, Port: "8080" } },
        ]),
      /health\/service\/api/,
      /instance 0/,
      /Port/,
    );
  });

  it("rejects an instance without a service ID", () => {
    const withoutId: Record<string, unknown> = { ...goodEntry.Service };
    delete withoutId.ID;
    assertBadAnswer(
      () => parseServiceEntries("web", [{ ...goodEntry, Service: withoutId }]),
      /instance 0/,
      /ID/,
    );
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { endpoint } from "../support/model-fixtures.ts";
import { serviceAttributes } from "../../src/model/service-attributes.ts";
import { EXPORT_ALL, isExported, parseServiceFilter } from "../../src/model/service-filter.ts";

const filter = (text: string) => {
  const { filter, problems } = parseServiceFilter(text);
  assert.deepEqual(problems, []);
  return filter;
};
const plain = { tags: [], meta: {} };

describe("service filter", () => {
  it("exports every service but Consul's own by default", () => {
    assert.equal(isExported(EXPORT_ALL, "web", plain), true);
    assert.equal(isExported(EXPORT_ALL, "consul", plain), false);
  });

  it("matches name globs with * and ?, anchored at both ends", () => {
    const f = filter("api-*, db?");
    assert.equal(isExported(f, "api-users", plain), true);
    assert.equal(isExported(f, "db1", plain), true);
    assert.equal(isExported(f, "db12", plain), false);
    assert.equal(isExported(f, "my-api-users", plain), false);
  });

  it("matches tag:NAME and meta:KEY=VALUE against the service's attributes", () => {
    const f = filter("tag:public,meta:team=payments");
    assert.equal(isExported(f, "a", { tags: ["public"], meta: {} }), true);
    assert.equal(isExported(f, "b", { tags: [], meta: { team: "payments" } }), true);
    assert.equal(isExported(f, "c", { tags: ["private"], meta: { team: "search" } }), false);
  });

  it("accepts an empty meta value and skips blank entries", () => {
    const f = filter(" , meta:canary=,");
    assert.equal(f.patterns.length, 1);
    assert.equal(isExported(f, "x", { tags: [], meta: { canary: "" } }), true);
  });

  it("exports consul only when a pattern names it exactly", () => {
    assert.equal(isExported(filter("*"), "consul", { tags: ["public"], meta: {} }), false);
    assert.equal(isExported(filter("tag:public"), "consul", { tags: ["public"], meta: {} }), false);
    assert.equal(isExported(filter("consul"), "consul", plain), true);
  });

  it("reports every bad pattern with its position", () => {
    const { problems } = parseServiceFilter("ok,tag:,meta:=x,sp ace,a/b");
    assert.equal(problems.length, 4);
    assert.match(problems[0]!, /pattern 2 "tag:"/);
    assert.match(problems[1]!, /pattern 3 "meta:=x"/);
    assert.match(problems[2]!, /pattern 4/);
    assert.match(problems[3]!, /pattern 5/);
  });
});

describe("serviceAttributes", () => {
  it("unites the instances' tags and takes each meta key from the first instance setting it", () => {
    const attributes = serviceAttributes([
      endpoint("10.0.0.2", { tags: ["b", "a"], meta: { team: "two", only2: "x" } }),
      endpoint("10.0.0.1", { tags: ["a"], meta: { team: "one" } }),
    ]);
    assert.deepEqual(attributes, { tags: ["a", "b"], meta: { team: "one", only2: "x" } });
  });

  it("gives the same answer whatever order the instances come in", () => {
    const one = endpoint("10.0.0.1", { meta: { k: "1" } });
    const two = endpoint("10.0.0.2", { meta: { k: "2" } });
    assert.deepEqual(serviceAttributes([one, two]), serviceAttributes([two, one]));
  });
});

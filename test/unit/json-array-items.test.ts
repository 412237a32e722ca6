import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BadConsulAnswerError } from "../../src/consul/client/consul-answers.ts";
import { jsonArrayItems } from "../../src/consul/client/json-array-items.ts";

describe("jsonArrayItems", () => {
  it("gives each object of a list as its own text, which parses to that object", () => {
    const list = [
      { Node: "node-1", Output: 'HTTP 503: {"error": "down", "items": [1, 2]} \\ "quoted" }]' },
      { Node: "node-2", Definition: { Interval: "10s" }, Tags: ["a", "{b"] },
      {},
    ];
    const items = jsonArrayItems(JSON.stringify(list), "test");
    assert.deepEqual(
      items.map((item) => JSON.parse(item)),
      list,
    );
    assert.deepEqual(
      jsonArrayItems(JSON.stringify(list, null, 2), "test").map((item) => JSON.parse(item)),
      list,
    );
  });

  it("reads an empty list, with or without spaces", () => {
    assert.deepEqual(jsonArrayItems("[]", "test"), []);
    assert.deepEqual(jsonArrayItems(" [ \n ] \n", "test"), []);
  });

  it("refuses what is not a whole list of objects, saying where", () => {
    const cases: [string, RegExp][] = [
      ['{"Node":"n"}', /expected a list/],
      ["", /expected a list/],
      ['["serfHealth"]', /item 0 is not an object/],
      ['[{"Node":"n"}, 3]', /item 1 is not an object/],
      ['[{"Node":"n"}', /expected , or \] after item 0/],
      ['[{"Node":"n"', /item 0 is cut short/],
      ['[{"Node":"n"} {"Node":"m"}]', /expected , or \] after item 0/],
      ['[{"Node":"n"},]', /item 1 is not an object/],
      ['[{"Node":"n"}] x', /text after the list/],
      ["[] []", /text after the list/],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => jsonArrayItems(text, "health/state/critical"),
        (error: unknown) =>
          error instanceof BadConsulAnswerError &&
          /^health\/state\/critical: /.test(error.message) &&
          message.test(error.message),
        JSON.stringify(text),
      );
    }
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readNodeView, VIEW_METADATA_KEY } from "../../src/xds/protocol/node-view.ts";

/** A node whose metadata holds `value` under consul-services, as proto-loader decodes it. */
function node(value: object): Parameters<typeof readNodeView>[0] {
  return { metadata: { fields: { [VIEW_METADATA_KEY]: value } } };
}

const text = (value: string) => ({ kind: "string_value", string_value: value });
const list = (...values: object[]) => ({ kind: "list_value", list_value: { values } });

describe("readNodeView", () => {
  it("gives no view to a node without the key: it gets every service", () => {
    assert.equal(readNodeView(undefined), undefined);
    assert.equal(readNodeView({}), undefined);
    assert.equal(readNodeView({ metadata: { fields: { other: text("x") } } }), undefined);
  });

  it("reads a comma-separated string in the --services grammar", () => {
    const view = readNodeView(node(text("web, api-*,tag:public,meta:team=payments")));
    assert.ok(view && !("error" in view));
    assert.deepEqual(
      view.filter.patterns.map((p) => [p.kind, p.text]),
      [
        ["name", "web"],
        ["name", "api-*"],
        ["tag", "tag:public"],
        ["meta", "meta:team=payments"],
      ],
    );
  });

  it("reads a list of strings; one view has one text whatever the order or repeats", () => {
    const fromList = readNodeView(node(list(text("web"), text("api"), text("web"))));
    const fromText = readNodeView(node(text("api,web")));
    assert.ok(fromList && !("error" in fromList) && fromText && !("error" in fromText));
    assert.equal(fromList.text, "api,web");
    assert.equal(fromText.text, fromList.text);
  });

  it("refuses a bad pattern, naming it, instead of widening the view", () => {
    const view = readNodeView(node(text("web,bad/name")));
    assert.ok(view && "error" in view);
    assert.match(view.error, /consul-services: pattern 2 "bad\/name"/);
    const meta = readNodeView(node(list(text("meta:nokey"))));
    assert.ok(meta && "error" in meta);
    assert.match(meta.error, /meta:nokey/);
  });

  it("refuses a value that names nothing, or that is not strings", () => {
    for (const value of [
      text(""),
      text(" , "),
      list(),
      list(text("web"), { kind: "number_value" }),
    ]) {
      const view = readNodeView(node(value));
      assert.ok(view && "error" in view, JSON.stringify(value));
      assert.match(view.error, /consul-services/);
    }
    const number = readNodeView(node({ kind: "number_value", number_value: 3 }));
    assert.ok(number && "error" in number);
    assert.match(number.error, /a string or a list of strings/);
  });
});

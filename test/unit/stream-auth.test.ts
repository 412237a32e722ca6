import { Metadata } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkBearerToken } from "../../src/xds/server/stream-auth.ts";

const TOKEN = "s3cret.Token-42";

function metadata(...authorization: string[]): Metadata {
  const result = new Metadata();
  for (const value of authorization) result.add("authorization", value);
  return result;
}

describe("checkBearerToken", () => {
  it("accepts exactly the token after the Bearer scheme, whatever the scheme's case", () => {
    assert.equal(checkBearerToken(metadata(`Bearer ${TOKEN}`), TOKEN), undefined);
    assert.equal(checkBearerToken(metadata(`bearer ${TOKEN}`), TOKEN), undefined);
  });

  it("calls a call without authorization metadata missing", () => {
    assert.equal(checkBearerToken(new Metadata(), TOKEN), "missing");
  });

  it("refuses a prefix, an extension, another scheme, a bare token and two values", () => {
    for (const value of [
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN}x`,
      `Bearer x${TOKEN}`,
      `Basic ${TOKEN}`,
      TOKEN,
      "Bearer ",
      `Bearer ${TOKEN} extra`,
    ])
      assert.equal(checkBearerToken(metadata(value), TOKEN), "wrong", value);
    assert.equal(checkBearerToken(metadata(`Bearer ${TOKEN}`, `Bearer ${TOKEN}`), TOKEN), "wrong");
  });
});

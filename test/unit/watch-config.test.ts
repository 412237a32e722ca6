import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConfigError,
  DEFAULT_CHECK_GRACE_SECONDS,
  parseConfig,
  usage,
} from "../../src/config/config.ts";

describe("parseConfig watch options", () => {
  it("holds start-up checks for 30 s by default", () => {
    const parsed = parseConfig([], {});
    assert.ok(!parsed.help);
    assert.equal(DEFAULT_CHECK_GRACE_SECONDS, 30);
    assert.deepEqual(parsed.config.watch, { checkGraceSeconds: 30 });
  });

  it("reads --check-grace and BRIDGE_CHECK_GRACE; 0 turns the hold off", () => {
    const fromFlag = parseConfig(["--check-grace=0"], { BRIDGE_CHECK_GRACE: "12" });
    const fromEnv = parseConfig([], { BRIDGE_CHECK_GRACE: "12" });
    assert.ok(!fromFlag.help && !fromEnv.help);
    assert.equal(fromFlag.config.watch.checkGraceSeconds, 0, "the flag wins");
    assert.equal(fromEnv.config.watch.checkGraceSeconds, 12);
  });

  it("refuses a grace that is not a whole number of seconds up to an hour", () => {
    for (const value of ["-1", "1.5", "3601", "soon"]) {
      assert.throws(
        () => parseConfig([`--check-grace=${value}`], {}),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.problems.some((problem) => problem.startsWith(`--check-grace=${value}`)),
        value,
      );
    }
  });

  it("lists --check-grace in --help", () => {
    assert.match(usage(), /--check-grace\s.*\[env BRIDGE_CHECK_GRACE\]/);
  });
});

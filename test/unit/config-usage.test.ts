import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConfigError,
  DEFAULT_CONSUL_ADDR,
  DEFAULT_XDS_PORT,
  OPTION_GROUPS,
  OPTIONS,
  parseConfig,
  usage,
  type OptionSpec,
} from "../../src/config/config.ts";
import { DEFAULT_SHIM_ALLOW_NETWORKS } from "../../src/config/shim.ts";

const SPECS: OptionSpec[] = Object.values(OPTIONS);

/** The option blocks of the help: heading, then each option's header line and description. */
function optionBlocks(text: string): { group: string; header: string; body: string }[] {
  const blocks: { group: string; header: string; body: string }[] = [];
  let group = "";
  let block: (typeof blocks)[number] | undefined;
  for (const line of text.split("\n")) {
    if (/^ {2}-/.test(line)) {
      block = { group, header: line, body: "" };
      blocks.push(block);
    } else if (/^ {6}\S/.test(line) && block) block.body = `${block.body} ${line.trim()}`.trim();
    else block = undefined;
    if (/^\S.*:$/.test(line)) group = line.slice(0, -1);
  }
  return blocks;
}

/** What --help shows after an option's flag, as an operator types it. */
function expectedHeader(spec: OptionSpec): string {
  const short = spec.short ? `-${spec.short}, ` : "";
  const value =
    spec.placeholder === undefined
      ? ""
      : spec.valueOptional
        ? `[=${spec.placeholder}]`
        : ` ${spec.placeholder}`;
  const env = spec.env ? `  [env ${spec.env}]` : "";
  return `  ${short}--${spec.flag}${value}${env}`;
}

/** The example command lines, continuation lines joined, comments dropped. */
function exampleCommands(text: string): string[] {
  const examples = text.slice(text.indexOf("\nExamples:\n") + "\nExamples:\n".length);
  return examples
    .replace(/ \\\n\s+/g, " ")
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .map((line) => line.trim());
}

/** A command line's environment assignments and arguments (single quotes only, no spaces inside). */
function splitCommand(command: string): { env: NodeJS.ProcessEnv; argv: string[] } {
  const words = command.split(" ").map((word) => word.replace(/^'(.*)'$/, "$1"));
  const start = words.indexOf("consul-xds-bridge");
  assert.ok(start > 0 && words[start - 1] === "npx", command);
  const env = Object.fromEntries(
    words.slice(0, start - 1).map((assignment) => assignment.split("=") as [string, string]),
  );
  return { env, argv: words.slice(start + 1) };
}

describe("--help", () => {
  it("lists every option once, under its group's heading, with its placeholder and environment name", () => {
    const text = usage(100);
    const headings = text.split("\n").filter((line) => /^\S.*:$/.test(line));
    assert.deepEqual(
      headings.filter((line) => line !== "Examples:"),
      Object.values(OPTION_GROUPS).map((title) => `${title}:`),
    );
    const blocks = optionBlocks(text);
    assert.equal(blocks.length, SPECS.length);
    for (const spec of SPECS) {
      const found = blocks.filter((block) => block.header === expectedHeader(spec));
      assert.equal(found.length, 1, `${spec.flag} appears once: ${expectedHeader(spec)}`);
      assert.equal(found[0]?.group, OPTION_GROUPS[spec.group], spec.flag);
    }
  });

  it("gives every value's default from the option table, not from the descriptions", () => {
    const blocks = optionBlocks(usage(100));
    for (const spec of SPECS) {
      assert.doesNotMatch(spec.description, /\(default|default:/i, `${spec.flag}: not retyped`);
      const body = blocks.find((block) => block.header === expectedHeader(spec))?.body ?? "";
      assert.ok(body.startsWith(spec.description), spec.flag);
      if (spec.boolean) {
        assert.doesNotMatch(body, /\[default:/, spec.flag);
        continue;
      }
      const shown = Array.isArray(spec.default) ? spec.default.join(",") : spec.default;
      assert.ok(body.endsWith(`[default: ${shown ?? spec.whenUnset}]`), `${spec.flag}: ${body}`);
    }
    const bodyOf = (flag: string): string =>
      blocks.find((block) => block.header.includes(`--${flag} `))?.body ?? "";
    assert.equal(bodyOf("xds-port"), `xDS gRPC port [default: ${DEFAULT_XDS_PORT}]`);
    assert.ok(bodyOf("consul-addr").endsWith(`[default: ${DEFAULT_CONSUL_ADDR}]`));
    const networks = DEFAULT_SHIM_ALLOW_NETWORKS.join(",");
    assert.ok(bodyOf("shim-allow-networks").endsWith(`[default: ${networks}]`));
  });

  it("wraps every line to the width it is given and loses no word doing so", () => {
    const words = (text: string): string =>
      text
        .replace(/ \\\n/g, " ")
        .replace(/\n {2}# /g, " ")
        .replace(/\s+/g, "");
    const widest = usage(100);
    for (const width of [40, 57, 64, 80, 99]) {
      const text = usage(width);
      const long = text.split("\n").filter((line) => line.length > width);
      assert.deepEqual(long, [], `width ${width}`);
      assert.equal(words(text), words(widest), `width ${width} keeps every word`);
    }
    const widths = (text: string): number => Math.max(...text.split("\n").map((l) => l.length));
    assert.equal(widths(usage()), 80, "80 columns when the width is unknown");
    assert.ok(widths(usage(250)) <= 100, "at most 100 columns on a wide terminal");
    assert.ok(widths(usage(20)) <= 40, "at least 40 columns on a narrow one");
  });

  it("names the older environment names still read", () => {
    const text = usage(200).replace(/\n/g, " ");
    for (const spec of SPECS.filter((option) => option.deprecatedEnv)) {
      assert.ok(text.includes(`${spec.deprecatedEnv} (now ${spec.env})`), spec.flag);
    }
  });

  it("ends with three examples an operator can run as shown", () => {
    for (const width of [40, 80]) {
      const commands = exampleCommands(usage(width));
      assert.equal(commands.length, 3, commands.join("\n"));
      const [remote, shim, gateway] = commands.map(splitCommand);

      // The token file of the first example exists on the operator's machine, not here.
      assert.throws(
        () => parseConfig(remote!.argv, remote!.env),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.problems.length === 1 &&
          /^--consul-token-file=\S+: cannot read the file/.test(error.problems[0] ?? ""),
      );
      assert.ok(remote!.argv.includes("https://consul.example.com:8501"));

      const open = parseConfig(shim!.argv, shim!.env);
      assert.ok(!open.help);
      assert.equal(open.config.http.host, "0.0.0.0");
      assert.ok(open.config.http.token, "the open shim takes a token");

      const listener = parseConfig(gateway!.argv, gateway!.env);
      assert.ok(!listener.help);
      assert.equal(listener.config.routing.gateway?.port, 8080);
      assert.equal(listener.config.routing.services.patterns.length, 2);
    }
  });
});

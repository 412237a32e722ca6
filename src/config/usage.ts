import { OPTION_GROUPS, type OptionGroup, type OptionSpec } from "./option-spec.ts";
import { OPTIONS } from "./options.ts";

/** The --help text: the options by group, wrapped to the terminal, then examples. */

/** How an operator runs the bridge: package.json's `bin`, in a checkout and in the Docker image. */
export const COMMAND = "npx consul-xds-bridge";

/** Width of the text when stdout is not a terminal. */
const DEFAULT_WIDTH = 80;
/** Narrower terminals still get 40 columns: below that no header line fits. */
const MIN_WIDTH = 40;
/** Wider terminals get 100 columns: longer lines are hard to read. */
const MAX_WIDTH = 100;

/** Where a wrapped line may break inside a word it holds together (flag and placeholder). */
const KEEP = "\u00a0";

/**
 * Examples run as given, with their environment first. The token file in the first keeps the
 * token out of argv; the shim has no token file, hence the environment in the second.
 */
const EXAMPLES: readonly { what: string; command: string }[] = [
  {
    what: "Consul on another machine, over HTTPS, with an ACL token kept in a file",
    command: `${COMMAND} --consul-addr https://consul.example.com:8501 --consul-token-file /run/secrets/consul-token`,
  },
  {
    what: "the shim open to the network; every shim call must carry the token",
    command: `BRIDGE_SHIM_TOKEN=change-me ${COMMAND} --http-host 0.0.0.0`,
  },
  {
    what: "a gateway listener on port 8080 routing to the api-* services and web",
    command: `${COMMAND} --gateway-port 8080 --services 'api-*,web'`,
  },
];

/**
 * The --help text for a terminal of `columns` characters (80 when not a terminal, kept within
 * 40 to 100): every option once, under its group, with its placeholder, environment name and
 * default, then the older environment names still read, then examples.
 */
export function usage(columns?: number): string {
  const width = Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, columns ?? DEFAULT_WIDTH));
  const specs: OptionSpec[] = Object.values(OPTIONS);
  const lines = [
    `usage: ${COMMAND} [options]`,
    ...wrap("or: npm start -- [options] (in a checkout)", width, "   ", "       "),
    "",
    ...wrap(
      "Watches Consul with blocking queries and serves every service to Envoy and proxyless gRPC clients over xDS. An option is also read from its environment variable [env NAME] and from the --config file, keyed by its flag name; flags win over the environment, the environment over the file. A switch shown as --flag[=BOOL] means true when given alone.",
      width,
      "",
      "",
    ),
  ];
  for (const [group, title] of Object.entries(OPTION_GROUPS)) {
    lines.push("", ...wrap(`${title}:`, width, "", ""));
    for (const spec of specs.filter((option) => option.group === (group as OptionGroup))) {
      lines.push(...describeOption(spec, width));
    }
  }
  const renamed = specs.filter((spec) => spec.deprecatedEnv !== undefined);
  lines.push(
    "",
    ...wrap(
      `Older environment names, still read with a warning: ${renamed.map((spec) => `${spec.deprecatedEnv} (now ${spec.env})`).join(", ")}.`,
      width,
      "",
      "",
    ),
    "",
    "Examples:",
  );
  for (const { what, command } of EXAMPLES) {
    lines.push(
      ...wrap(what, width, "  # ", "  # "),
      ...wrap(command, width, "  ", "      ", " \\"),
    );
  }
  return lines.join("\n");
}

/** An option's header (flags, placeholder, environment name) and its description with default. */
function describeOption(spec: OptionSpec, width: number): string[] {
  const short = spec.short ? `-${spec.short},${KEEP}` : "";
  const value =
    spec.placeholder === undefined
      ? ""
      : spec.valueOptional
        ? `[=${spec.placeholder}]`
        : `${KEEP}${spec.placeholder}`;
  const env = spec.env ? ` [env${KEEP}${spec.env}]` : "";
  const header = `${short}--${spec.flag}${value}${KEEP}${env}`;
  const fallback =
    spec.default !== undefined
      ? ` [default: ${Array.isArray(spec.default) ? spec.default.join(",") : String(spec.default)}]`
      : spec.whenUnset !== undefined
        ? ` [default: ${spec.whenUnset}]`
        : "";
  return [
    ...wrap(header, width, "  ", "      "),
    ...wrap(`${spec.description}${fallback}`, width, "      ", "      "),
  ];
}

/**
 * `text` in lines of at most `width` characters, the first starting with `first`, the others
 * with `rest`, every one but the last closed by `end` (` \` continues a shell command). Lines
 * break at spaces; a word longer than a line breaks at a kept space or after a comma if it can.
 */
function wrap(text: string, width: number, first: string, rest: string, end = ""): string[] {
  const room = width - end.length;
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(" ").filter((part) => part !== "")) {
    for (const piece of pieces(word, room - rest.length)) {
      if (!empty && line.length + 1 + piece.length > room) {
        lines.push(line + end);
        line = rest;
        empty = true;
      }
      line += (empty ? "" : " ") + piece;
      empty = false;
    }
  }
  lines.push(line);
  return lines.map((text) => text.replaceAll(KEEP, " ").trimEnd());
}

/** A word cut into parts of at most `max` characters, after a kept space or a comma if possible. */
function pieces(word: string, max: number): string[] {
  const parts: string[] = [];
  let left = word;
  while (left.length > max) {
    const head = left.slice(0, max);
    const cut = Math.max(head.lastIndexOf(KEEP), head.lastIndexOf(",") + 1);
    const at = cut > 0 ? cut : max;
    parts.push(left.slice(0, at));
    left = left.slice(at).replace(new RegExp(`^${KEEP}`), "");
  }
  return [...parts, left];
}

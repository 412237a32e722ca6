import { parseServiceFilter } from "../../model/service-filter.ts";
import type { NodeView } from "../cache/xds-cache.ts";
import { cutClientText } from "./client-text.ts";

/** The node metadata key that names the services a node needs (docs/architecture.md §4). */
export const VIEW_METADATA_KEY = "consul-services";

/** A google.protobuf.Value as proto-loader decodes it (keepCase, defaults, oneofs). */
interface StructValue {
  kind?: string;
  string_value?: string;
  list_value?: { values?: StructValue[] | null } | null;
}

/** The node of a request as proto-loader decodes it: only its metadata is read here. */
export interface ViewNode {
  metadata?: { fields?: Record<string, StructValue> | null } | null;
}

/**
 * The view a node asks for with its `consul-services` metadata: a comma-separated string or a
 * list of strings, in the grammar of `--services` (service-filter.ts). Undefined when the node
 * has no such key (it gets every service); an error naming what is wrong when the value is not
 * strings, names no pattern, or has a bad pattern: a view is never widened to everything.
 */
export function readNodeView(
  node: ViewNode | null | undefined,
): NodeView | { error: string } | undefined {
  const value = node?.metadata?.fields?.[VIEW_METADATA_KEY];
  if (!value) return undefined;
  const entries = valueStrings(value);
  if (entries === undefined) {
    return { error: `node metadata ${VIEW_METADATA_KEY} must be a string or a list of strings` };
  }
  const { filter, problems } = parseServiceFilter(entries.join(","));
  if (problems.length > 0) {
    return { error: `node metadata ${VIEW_METADATA_KEY}: ${cutClientText(problems.join("; "))}` };
  }
  if (filter.patterns.length === 0) {
    return { error: `node metadata ${VIEW_METADATA_KEY} names no service pattern` };
  }
  const text = [...new Set(filter.patterns.map((pattern) => pattern.text))].sort().join(",");
  return { filter, text };
}

function valueStrings(value: StructValue): string[] | undefined {
  const kind = value.kind ?? (value.list_value ? "list_value" : "string_value");
  if (kind === "string_value") return [value.string_value ?? ""];
  if (kind !== "list_value") return undefined;
  const strings: string[] = [];
  for (const item of value.list_value?.values ?? []) {
    if ((item.kind ?? "string_value") !== "string_value") return undefined;
    strings.push(item.string_value ?? "");
  }
  return strings;
}

/**
 * Load-balancing settings read from service meta next to service-settings.ts: subsets of
 * endpoints by their metadata (endpoint-metadata.ts), the header that picks one, and how
 * localities are balanced. Same rule as the other settings: a value that does not parse is
 * reported and the default is used.
 */

/** How a cluster balances across localities (Envoy's `common_lb_config`). */
export const LOCALITY_LB_MODES = ["weighted", "zone-aware", "off"] as const;
/** A locality balancing mode. */
export type LocalityLb = (typeof LOCALITY_LB_MODES)[number];

/** Subset load balancing of a service's cluster, and the header routes that pick a subset. */
export interface SubsetSettings {
  /** Each selector is a list of metadata keys Envoy builds subsets by. */
  selectors: string[][];
  /** A request header whose value picks the subset with that value of `key`. */
  header: { name: string; key: string } | undefined;
}

/** The load-balancing part of a service's settings. */
export interface LbSettings {
  localityLb: LocalityLb;
  subsets: SubsetSettings | undefined;
}

/** Meta keys of these settings (merged into SERVICE_META_KEYS, which docs/configuration.md lists). */
export const LB_META_KEYS = {
  localityLb: {
    key: "envoy-locality-lb",
    meaning:
      "balancing across localities: weighted (by locality weight), zone-aware (Envoy's own zone first; needs local_cluster_name in its bootstrap) or off",
    default: "weighted",
    example: "zone-aware",
  },
  subsetKeys: {
    key: "envoy-subset-keys",
    meaning:
      "subset load balancing: selectors separated by ;, each a comma-separated list of endpoint metadata keys (meta keys or tags); no match falls back to any endpoint",
    default: "none",
    example: "version;version,stage",
  },
  subsetHeader: {
    key: "envoy-subset-header",
    meaning:
      "request header whose value picks the subset with that value of the first one-key selector (one route per value present)",
    default: "none",
    example: "x-version",
  },
} as const;

/** Settings of a service whose meta sets none of these keys. */
export const DEFAULT_LB_SETTINGS: LbSettings = Object.freeze({
  localityLb: "weighted",
  subsets: undefined,
});

const MAX_SELECTORS = 8;
const MAX_KEYS_PER_SELECTOR = 8;
const METADATA_KEY = /^[A-Za-z0-9_.\-/:]{1,128}$/;
/** An HTTP header name (RFC 9110 token, lower-cased by the reader); not a pseudo-header. */
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]{1,128}$/;

/** A value that was not used, and why. */
interface Problem {
  key: string;
  value: string;
  reason: string;
}

/** Reads the load-balancing settings; every unusable value is listed and defaulted. */
export function readLbSettings(meta: Readonly<Record<string, string>>): {
  settings: LbSettings;
  problems: Problem[];
} {
  const problems: Problem[] = [];
  const K = LB_META_KEYS;
  let localityLb: LocalityLb = DEFAULT_LB_SETTINGS.localityLb;
  const localityText = meta[K.localityLb.key];
  if (localityText !== undefined) {
    const mode = localityText.trim().toLowerCase();
    if ((LOCALITY_LB_MODES as readonly string[]).includes(mode)) localityLb = mode as LocalityLb;
    else {
      const reason = `expected one of ${LOCALITY_LB_MODES.join(", ")}`;
      problems.push({ key: K.localityLb.key, value: localityText, reason });
    }
  }
  const keysText = meta[K.subsetKeys.key];
  const selectors = keysText === undefined ? undefined : parseSelectors(keysText);
  if (typeof selectors === "string") {
    problems.push({ key: K.subsetKeys.key, value: keysText ?? "", reason: selectors });
  }
  const subsetSelectors = Array.isArray(selectors) ? selectors : undefined;
  let header: SubsetSettings["header"];
  const headerText = meta[K.subsetHeader.key];
  if (headerText !== undefined) {
    const name = headerText.trim().toLowerCase();
    const key = subsetSelectors?.find((selector) => selector.length === 1)?.[0];
    const reason = !HEADER_NAME.test(name)
      ? "expected an HTTP header name"
      : key === undefined
        ? `needs a selector of one key in ${K.subsetKeys.key}`
        : undefined;
    if (reason) problems.push({ key: K.subsetHeader.key, value: headerText, reason });
    else header = { name, key: key ?? "" };
  }
  const subsets = subsetSelectors ? { selectors: subsetSelectors, header } : undefined;
  return { settings: { localityLb, subsets }, problems };
}

/** `a;b,c` → [[a], [b, c]], or why the text is not a selector list. */
function parseSelectors(text: string): string[][] | string {
  const selectors = text
    .split(";")
    .map((selector) => [...new Set(selector.split(",").map((key) => key.trim()))])
    .filter((keys) => !(keys.length === 1 && keys[0] === ""));
  const invalid = selectors
    .flat()
    .filter((key) => !METADATA_KEY.test(key) || key.startsWith("envoy-"));
  if (selectors.length === 0) return "expected at least one metadata key";
  if (invalid.length > 0) {
    return `not a metadata key: ${invalid.map((key) => JSON.stringify(key)).join(", ")}`;
  }
  if (selectors.length > MAX_SELECTORS) return `at most ${MAX_SELECTORS} selectors`;
  if (selectors.some((keys) => keys.length > MAX_KEYS_PER_SELECTOR)) {
    return `at most ${MAX_KEYS_PER_SELECTOR} keys per selector`;
  }
  return selectors.map((keys) => [...keys].sort());
}

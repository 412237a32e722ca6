import type { ServiceAttributes } from "./service-attributes.ts";

/** One `--services` pattern: a name glob, `tag:NAME` or `meta:KEY=VALUE`. */
export type ServicePattern =
  | { kind: "name"; text: string; glob: RegExp }
  | { kind: "tag"; text: string; tag: string }
  | { kind: "meta"; text: string; key: string; value: string };

/** Which services are exported: any pattern matching exports; no pattern exports all. */
export interface ServiceFilter {
  patterns: readonly ServicePattern[];
}

/** Consul's own service, exported only when a name pattern spells it out. */
export const CONSUL_SERVICE = "consul";

/** The filter that exports every service but Consul's own. */
export const EXPORT_ALL: ServiceFilter = Object.freeze({ patterns: [] });

const NAME_GLOB = /^[A-Za-z0-9_*?-]+$/;
const META_KEY = /^[A-Za-z0-9_-]+$/;

/**
 * Parses a comma-separated pattern list (`api-*,tag:public,meta:team=payments`). Blank entries
 * are skipped; every bad entry is reported, with its position.
 */
export function parseServiceFilter(text: string): { filter: ServiceFilter; problems: string[] } {
  const patterns: ServicePattern[] = [];
  const problems: string[] = [];
  text.split(",").forEach((raw, index) => {
    const entry = raw.trim();
    if (entry === "") return;
    const where = `pattern ${index + 1} ${JSON.stringify(entry)}`;
    if (entry.startsWith("tag:")) {
      const tag = entry.slice(4);
      if (tag === "") problems.push(`${where}: tag: needs a tag name`);
      else patterns.push({ kind: "tag", text: entry, tag });
    } else if (entry.startsWith("meta:")) {
      const body = entry.slice(5);
      const equals = body.indexOf("=");
      const key = equals < 0 ? body : body.slice(0, equals);
      if (equals < 0 || !META_KEY.test(key)) {
        problems.push(`${where}: expected meta:KEY=VALUE with KEY of letters, digits, _ and -`);
      } else {
        patterns.push({ kind: "meta", text: entry, key, value: body.slice(equals + 1) });
      }
    } else if (NAME_GLOB.test(entry)) {
      patterns.push({ kind: "name", text: entry, glob: globToRegExp(entry) });
    } else {
      problems.push(`${where}: a name glob has letters, digits, _, -, * and ? only`);
    }
  });
  return { filter: { patterns }, problems };
}

/**
 * Whether a service is exported (served over CDS, EDS, RDS and LDS). `tag:T` matches when an
 * instance has tag T, `meta:K=V` when the service meta (see serviceAttributes) has K=V. Consul's
 * own `consul` service is exported only by a name pattern that is exactly `consul`.
 */
export function isExported(
  filter: ServiceFilter,
  name: string,
  attributes: ServiceAttributes,
): boolean {
  if (name === CONSUL_SERVICE) {
    return filter.patterns.some((p) => p.kind === "name" && p.text === CONSUL_SERVICE);
  }
  if (filter.patterns.length === 0) return true;
  return filter.patterns.some((pattern) => {
    switch (pattern.kind) {
      case "name":
        return pattern.glob.test(name);
      case "tag":
        return attributes.tags.includes(pattern.tag);
      case "meta":
        return attributes.meta[pattern.key] === pattern.value;
    }
  });
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[*?]/g, (c) => (c === "*" ? ".*" : "."));
  return new RegExp(`^${body}$`);
}

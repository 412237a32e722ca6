/** Field names whose values are secrets: shown as "***" when set. */
const SECRET_FIELDS = new Set(["token", "privateKey", "key", "password", "secret"]);

/**
 * The effective configuration for the start-up log line: every value as read, with tokens
 * (Consul's, the shim's, the xDS one, whether given inline or read from a file) and private keys
 * replaced by "***", and file contents (PEM buffers) by their size.
 */
export function describeConfig(config: object): Record<string, unknown> {
  return describe(config) as Record<string, unknown>;
}

function describe(value: unknown, field?: string): unknown {
  if (value === undefined || value === null) return value;
  if (field !== undefined && SECRET_FIELDS.has(field)) return "***";
  if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
  if (value instanceof RegExp) return value.source;
  if (typeof value === "function") return undefined;
  if (value instanceof Set) return [...value].map((item) => describe(item));
  if (value instanceof Map) return describe(Object.fromEntries(value));
  if (Array.isArray(value)) return value.map((item) => describe(item));
  if (typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([name, inner]) => [name, describe(inner, name)]),
    );
  }
  return value;
}

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import protobuf from "protobufjs";

/** The project's own `.proto` tree (`<repo>/protos`), found from this file, not the cwd. */
export const PROTOS_DIR = fileURLToPath(new URL("../../../protos/", import.meta.url));

/** A `.proto` file that is missing from the tree or does not parse. */
export class ProtoLoadError extends Error {
  override readonly name = "ProtoLoadError";

  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${message}`, options);
  }
}

/**
 * Parses `entries` and everything they import, every path resolved inside `dir` only — the
 * well-known google/protobuf types included, so nothing comes from protobufjs's bundled copies
 * or from another package's folder.
 */
export function loadProtoTree(dir: string, entries: readonly string[]): protobuf.Root {
  const root = new protobuf.Root();
  const seen = new Set<string>();
  const visit = (file: string, importedBy?: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    let source: string;
    try {
      source = readFileSync(join(dir, file), "utf8");
    } catch (cause) {
      const from = importedBy ? ` (imported by ${importedBy})` : "";
      throw new ProtoLoadError(file, `not found in ${dir}${from}`, { cause });
    }
    let parsed: protobuf.IParserResult;
    try {
      parsed = protobuf.parse(source, root, { keepCase: true });
    } catch (cause) {
      throw new ProtoLoadError(file, (cause as Error).message, { cause });
    }
    for (const dependency of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) {
      visit(dependency, file);
    }
  };
  for (const entry of entries) visit(entry);
  try {
    root.resolveAll();
  } catch (cause) {
    throw new ProtoLoadError(entries.join(", "), (cause as Error).message, { cause });
  }
  return root;
}

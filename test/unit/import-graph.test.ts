import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../support/tools.ts";

const SRC = join(repoRoot, "src");

/** Every TypeScript file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** The project files a file imports, type-only imports and re-exports included. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?from\s+"(\.[^"]+)"/g)];
  return specifiers.map((match) => resolve(dirname(file), match[1]!));
}

/** One import cycle among `graph`'s files, as a list of files, or undefined. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === "done") return undefined;
    if (state.get(file) === "open") return [...path.slice(path.indexOf(file)), file];
    state.set(file, "open");
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(file, "done");
    return undefined;
  };
  for (const file of graph.keys()) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return undefined;
}

test("no file under src/ imports itself through other files (type imports included)", () => {
  const files = sources(SRC);
  const graph = new Map(files.map((file) => [file, importsOf(file)]));
  assert.ok(graph.size > 50, "the source tree was read");
  const cycle = findCycle(graph);
  assert.equal(
    cycle,
    undefined,
    `import cycle: ${cycle?.map((f) => relative(SRC, f)).join(" → ")}`,
  );
});

test("src/ holds only the composition root and the entry point; the rest is in folders by role", () => {
  const loose = readdirSync(SRC, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name)
    .sort();
  assert.deepEqual(loose, ["bridge.ts", "main.ts"]);
});

test("the cycle finder finds a cycle", () => {
  const graph = new Map([
    ["a", ["b"]],
    ["b", ["c"]],
    ["c", ["a"]],
  ]);
  assert.deepEqual(findCycle(graph), ["a", "b", "c", "a"]);
  assert.equal(
    findCycle(
      new Map([
        ["a", ["b"]],
        ["b", []],
      ]),
    ),
    undefined,
  );
});

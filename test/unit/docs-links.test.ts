import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, normalize } from "node:path/posix";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

/** The repository root, two folders above this file. */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** What the checker reads, by repository path (posix, relative to the root). */
interface Repository {
  /** The text of a file, or undefined when there is no such file. */
  read(path: string): string | undefined;
  /** Whether a file or folder exists. */
  exists(path: string): boolean;
}

/** A link as written in a Markdown file, with the line it is on. */
interface MarkdownLink {
  line: number;
  target: string;
}

/** The repository on disk. */
const onDisk: Repository = {
  read: (path) =>
    existsSync(join(ROOT, path)) ? readFileSync(join(ROOT, path), "utf8") : undefined,
  exists: (path) => existsSync(join(ROOT, path)),
};

/** The file's lines, each line of a fenced code block (fences included) blanked out. */
function proseLines(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split("\n").map((text) => {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(text)?.[1];
    if (
      marker &&
      (fence === undefined || (marker[0] === fence[0] && marker.length >= fence.length))
    ) {
      fence = fence === undefined ? marker : undefined;
      return "";
    }
    return fence === undefined ? text : "";
  });
}

/**
 * A heading's anchor as GitHub makes it: the rendered text in lower case, keeping only letters,
 * marks, decimal and letter numbers, connectors (`_`), `-` and spaces, each space turned into `-`.
 */
function githubSlug(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .replace(/`/g, "");
  return rendered
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{Nd}\p{Nl}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** Every anchor a file's headings produce; a repeated slug gets `-1`, `-2`… as on GitHub. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const text of proseLines(markdown)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(text)?.[1];
    if (heading === undefined) continue;
    const slug = githubSlug(heading);
    let anchor = slug;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${slug}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

/**
 * Inline links and images (`[text](target "title")`, the text may run over several lines) and
 * reference definitions (`[id]: target`), outside code blocks and code spans.
 */
function markdownLinks(markdown: string): MarkdownLink[] {
  const prose = proseLines(markdown).map((text) => text.replace(/(`+)[^`]+?\1/g, ""));
  const text = prose.join("\n");
  const lineAt = (offset: number) => text.slice(0, offset).split("\n").length;
  const inline = /!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+"[^"]*")?\s*\)/g;
  const links = [...text.matchAll(inline)].map((match) => ({
    line: lineAt(match.index),
    target: match[1]!.replace(/^<(.*)>$/, "$1"),
  }));
  prose.forEach((line, index) => {
    const definition = /^ {0,3}\[[^\]]+\]:\s*(\S+)/.exec(line);
    if (definition) links.push({ line: index + 1, target: definition[1]! });
  });
  return links.sort((a, b) => a.line - b.line);
}

/** Links that leave the repository: a scheme (`https:`, `mailto:`) or a protocol-relative URL. */
function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//");
}

/** Why one relative link is broken, or undefined when it resolves. */
function problemOf(source: string, target: string, repository: Repository): string | undefined {
  const hashAt = target.indexOf("#");
  let pathPart: string;
  let anchor: string | undefined;
  try {
    pathPart = decodeURIComponent(hashAt < 0 ? target : target.slice(0, hashAt));
    anchor = hashAt < 0 ? undefined : decodeURIComponent(target.slice(hashAt + 1));
  } catch {
    return "malformed percent-encoding";
  }
  const path =
    pathPart === ""
      ? source
      : normalize(
          pathPart.startsWith("/") ? pathPart.slice(1) : join(dirname(source), pathPart),
        ).replace(/\/$/, "");
  if (path === ".." || path.startsWith("../")) return "points outside the repository";
  if (!repository.exists(path)) return `no file ${path}`;
  if (anchor === undefined || !path.endsWith(".md")) return undefined;
  const markdown = repository.read(path) ?? "";
  return headingAnchors(markdown).has(anchor) ? undefined : `no heading #${anchor} in ${path}`;
}

/** Every broken relative link of the given Markdown files, as `file:line: target (why)`. */
function brokenLinks(sources: readonly string[], repository: Repository): string[] {
  const broken: string[] = [];
  for (const source of sources) {
    for (const { line, target } of markdownLinks(repository.read(source) ?? "")) {
      if (isExternal(target)) continue;
      const problem = problemOf(source, target, repository);
      if (problem) broken.push(`${source}:${line}: ${target} (${problem})`);
    }
  }
  return broken;
}

/** README.md and every Markdown page under docs/. */
function documentation(): string[] {
  const pages = readdirSync(join(ROOT, "docs"), { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`)
    .sort();
  return ["README.md", ...pages];
}

/** A repository held in memory, for checking the checker. */
function inMemory(files: Record<string, string>): Repository {
  const folders = new Set(
    Object.keys(files).flatMap((path) =>
      path
        .split("/")
        .slice(0, -1)
        .map((_, i, parts) => parts.slice(0, i + 1).join("/")),
    ),
  );
  return { read: (path) => files[path], exists: (path) => path in files || folders.has(path) };
}

describe("documentation links", () => {
  it("makes heading anchors the way GitHub does", () => {
    const anchors: [heading: string, anchor: string][] = [
      ["3. Consul rules", "3-consul-rules"],
      ["Delta (incremental) xDS", "delta-incremental-xds"],
      ["Static clusters: `envoy-static.yaml`", "static-clusters-envoy-staticyaml"],
      ["The original `/edsservice` system", "the-original-edsservice-system"],
      ["Per-service settings (meta)", "per-service-settings-meta"],
      ["Tags, meta and subsets", "tags-meta-and-subsets"],
      ["Café § 2 → ok", "café--2--ok"],
      ["snake_case [link](x.md) name", "snake_case-link-name"],
      ["x² ½ Ⅻ", "x--ⅻ"],
    ];
    for (const [heading, anchor] of anchors) assert.equal(githubSlug(heading), anchor, heading);
    assert.deepEqual(
      [
        ...headingAnchors(
          "# Notes\n## Notes ##\n```\n# not a heading\n```\n### Notes\n## `a.b` c\n",
        ),
      ],
      ["notes", "notes-1", "notes-2", "ab-c"],
    );
  });

  it("reports every missing file and anchor, and nothing else", () => {
    const repository = inMemory({
      "README.md": [
        "# Top",
        "[fine](docs/a.md#real-part) [gone](docs/missing.md) [wrong](docs/a.md#nope)",
        "[self](#top) [self, wrong](#bottom) [web](https://example.com/x.md) ![image](docs/a.png)",
        "`[in code](nowhere.md)` and [folder](docs/) and [outside](../shared/design.md)",
        "```md",
        "[in a block](nowhere.md)",
        "```",
        "[ref]: docs/gone.md [bad](docs/%E0%A4%A.md)",
        "A link whose text [runs over",
        "two lines](docs/a.md#missing).",
      ].join("\n"),
      "docs/a.md": "# A\n## Real part\nBack to [the README](../README.md#top).\n",
      "docs/a.png": "",
    });
    assert.deepEqual(brokenLinks(["README.md", "docs/a.md"], repository), [
      "README.md:2: docs/missing.md (no file docs/missing.md)",
      "README.md:2: docs/a.md#nope (no heading #nope in docs/a.md)",
      "README.md:3: #bottom (no heading #bottom in README.md)",
      "README.md:4: ../shared/design.md (points outside the repository)",
      "README.md:8: docs/%E0%A4%A.md (malformed percent-encoding)",
      "README.md:8: docs/gone.md (no file docs/gone.md)",
      "README.md:9: docs/a.md#missing (no heading #missing in docs/a.md)",
    ]);
  });

  it("README.md and docs/*.md have no broken relative link", () => {
    const sources = documentation();
    assert.ok(sources.includes("docs/architecture.md"), sources.join(", "));
    const readmeLinks = markdownLinks(onDisk.read("README.md") ?? "").filter(
      ({ target }) => !isExternal(target),
    );
    assert.ok(readmeLinks.length >= 10, `README.md has ${readmeLinks.length} relative links`);
    const broken = brokenLinks(sources, onDisk);
    assert.deepEqual(broken, [], `broken links:\n${broken.join("\n")}`);
  });
});

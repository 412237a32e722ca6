import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { RowResult } from "../../bench/table.ts";
import { repoRoot } from "../support/tools.ts";

/** Every row `npm run bench` prints; the quick run must produce each with a number. */
const EXPECTED_ROWS = [
  ...["agent", "shim.listed", "shim.healthy", "shim.back-to-back"].flatMap((kind) =>
    ["p50", "p99"].map((p) => `latency.${kind}.${p}`),
  ),
  ...(["small", "large", "xl"] as const).flatMap((size) => [
    `startup.${size}`,
    `startup.${size}.first`,
    ...["first", "all"].flatMap((who) =>
      ["p50", "p99", "max"].map((p) => `fanout.${size}.${who}.${p}`),
    ),
    `fanout.${size}.spread.p50`,
    ...[
      "bytes",
      "pushes",
      "cpu",
      "client-cpu",
      "rss",
      "rss-idle",
      "rss-stream",
      "responses",
      "reads",
    ].map((f) => `fanout.${size}.${f}`),
    // The large and the many-streams fan-out again, the bridge serving xDS from workers.
    ...(size === "small"
      ? []
      : [
          `startup.${size}.workers`,
          ...[
            "first.p50",
            "all.p50",
            "all.p99",
            "spread.p50",
            "cpu",
            "rss",
            "rss-idle",
            "rss-stream",
            "reads",
          ].map((f) => `fanout.${size}.workers.${f}`),
        ]),
    // The large fan-out again, every instance registered with a check.
    ...(size === "large"
      ? ["first.p50", "all.p50", "all.p99", "spread.p50", "cpu", "rss", "reads"].map(
          (f) => `fanout.large.checked.${f}`,
        )
      : []),
  ]),
  ...["small", "large"].flatMap((size) =>
    ["startup", "first.p50", "all.p50", "all.p99", "bytes", "cpu", "rss", "rss-idle"].map(
      (f) => `floor.${size}.${f}`,
    ),
  ),
  "propagation.p50",
  "propagation.p99",
  "propagation.max",
  "burst.envoy",
  "burst.consul",
  "burst.pushes.max",
  "burst.pushes.mean",
  "scale.ready",
  "scale.client",
  "scale.baseline",
  "scale.connections",
  "scale.rss",
  "scale.reads",
  // Each figure at the small size, then at the large one.
  ...[
    "ready",
    "flip.p50",
    "flip.max",
    "flip.bridge-cpu",
    "flip.consul-cpu",
    "flip.consul-idle",
    "flip.bridge-idle",
    "flip.bytes",
    "flip.calls",
    ...["churn", "churn-recovering"].flatMap((churn) =>
      ["last-flip", "cpu", "mismatches", "mismatches-settled", "settled", "critical", "rate"].map(
        (figure) => `${churn}.${figure}`,
      ),
    ),
    "rss.sync",
    "rss.peak",
    "streams.flip",
    "sotw.new-service.ms",
    "sotw.new-service.bytes",
    "delta.new-service.ms",
    "delta.new-service.bytes",
    "envoy.full.rss",
    "envoy.full.clusters",
    "envoy.view.rss",
    "envoy.view.clusters",
  ].flatMap((figure) => ["small", "large"].map((size) => `scale-checks.${size}.${figure}`)),
  "name-burst.rss.before",
  "name-burst.rss.peak",
  "name-burst.rss.after",
  "name-burst.settle",
];

/** Rows also measured on both go-control-plane reference servers (at 5,000 streams: LinearCache). */
const WITH_REFERENCES =
  /^(startup|fanout)\.(small|large|xl)(\.first|\.checked|\.workers)?(\.(first|all)\.(p50|p99|max)|\.spread\.p50|\.(bytes|pushes|cpu|client-cpu|rss|rss-idle|rss-stream))?$/;

test(
  "the quick benchmark builds its Go programs and prints every row with numbers",
  {
    // A cold Go module and build cache costs a few minutes once; later runs take about a minute.
    timeout: 600_000,
  },
  async (t) => {
    const go = spawnSync("go", ["version"], { encoding: "utf8" });
    assert.ok(
      !go.error && go.status === 0,
      "`go` is not on PATH: the benchmark's reference servers and load client (bench/reference) " +
        "are Go programs, and Go is expected on every machine of this project. Install Go ≥ 1.26.",
    );
    const dir = await mkdtemp(join(tmpdir(), "bench-smoke-"));
    try {
      const jsonPath = join(dir, "rows.json");
      // Its own process group: if the test times out or is cancelled, the bench and everything
      // it started (Consul, the bridge, Envoy, the Go programs) are killed together, not left
      // running after the suite.
      const child = spawn(
        process.execPath,
        ["--import", "tsx", join(repoRoot, "bench", "run.ts"), "--quick", "--json", jsonPath],
        { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], detached: true },
      );
      const killGroup = (): void => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      };
      t.signal.addEventListener("abort", killGroup, { once: true });
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      t.signal.removeEventListener("abort", killGroup);
      // Anything the bench started and left behind goes with its group.
      killGroup();
      assert.equal(code, 0, `npm run bench -- --quick failed:\n${output}`);

      const { results } = JSON.parse(await readFile(jsonPath, "utf8")) as { results: RowResult[] };
      assert.deepEqual(
        results.map((row) => row.id),
        EXPECTED_ROWS,
      );
      for (const row of results) {
        assert.ok(Number.isFinite(row.bridge), `${row.id}: bridge figure ${row.bridge}`);
        assert.ok(["met", "MISSED", "—"].includes(row.verdict), `${row.id}: verdict`);
        if (WITH_REFERENCES.test(row.id)) {
          assert.ok(Number.isFinite(row.references.linear), `${row.id}: LinearCache figure`);
          if (!/\.xl\b/.test(row.id))
            assert.ok(Number.isFinite(row.references.snapshot), `${row.id}: SnapshotCache figure`);
        }
        // The floor server is measured next to LinearCache only.
        if (row.id.startsWith("floor."))
          assert.ok(Number.isFinite(row.references.linear), `${row.id}: LinearCache figure`);
        if (row.id.startsWith("propagation."))
          assert.ok(Number.isFinite(row.references.original), `${row.id}: modelled original`);
      }
      assert.match(output, /\| figure +\| bridge +\| target +\| verdict/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

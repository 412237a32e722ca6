/** Sizes of one benchmark run: the full run, or `--quick` (a smoke check of seconds). */
export interface BenchSizes {
  /** Registrations per latency measurement. */
  latencyRegistrations: number;
  /** Stream counts of the fan-out and start-up rows (small, large). */
  fanOutStreams: [number, number];
  /** Streams of the many-streams fan-out (bridge with 1 and with N xDS workers, LinearCache). */
  fanOutManyStreams: number;
  /** xDS workers of the bridge's worker rows (`--xds-workers`; 0: the cores it may use). */
  fanOutWorkers: number;
  /** Endpoints of the one fan-out service. */
  fanOutEndpoints: number;
  /** Updates (one endpoint registered each) per fan-out measurement. */
  fanOutUpdates: number;
  /** TTL check flips measured. */
  propagationSamples: number;
  /** Registrations of the burst. */
  burstRegistrations: number;
  /** Load-client streams counting pushes during the burst. */
  burstStreams: number;
  scaleServices: number;
  scaleEndpointsPerService: number;
  /** scale-checks: services of the small and the large catalog. */
  scaleChecksServices: [number, number];
  /** scale-checks: instances per service, each with its own check. */
  scaleChecksInstances: number;
  /** scale-checks: isolated check flips measured each way. */
  scaleChecksFlips: number;
  /** scale-checks: quiet time before the flips, whose CPU is subtracted from theirs. */
  scaleChecksIdleMs: number;
  /** scale-checks: seconds of churn (50 flips/s, 5 registrations/s). */
  scaleChecksChurnSeconds: number;
  /** scale-checks: seconds of churn whose failures recover (25 failures/s, each for 10 s). */
  scaleChecksRecoveringChurnSeconds: number;
  /** scale-checks: load-client streams on the flipped service, and the flips they measure. */
  scaleChecksStreams: number;
  scaleChecksStreamFlips: number;
  /** scale-checks: state-of-the-world streams subscribed to every service. */
  scaleChecksSotwStreams: number;
  /** Distinct resource names of the hostile burst, and the streams asking for them. */
  nameBurstNames: number;
  nameBurstStreams: number;
}

/** The run described in the issue: N = 100 and 1,000 streams, 1,000 endpoints, 5,000 services. */
export const FULL: BenchSizes = {
  latencyRegistrations: 50,
  fanOutStreams: [100, 1_000],
  fanOutManyStreams: 5_000,
  fanOutWorkers: 0,
  fanOutEndpoints: 1_000,
  fanOutUpdates: 20,
  propagationSamples: 200,
  burstRegistrations: 1_000,
  burstStreams: 100,
  scaleServices: 5_000,
  scaleEndpointsPerService: 10,
  scaleChecksServices: [500, 5_000],
  scaleChecksInstances: 15,
  scaleChecksFlips: 20,
  scaleChecksIdleMs: 5_000,
  scaleChecksChurnSeconds: 300,
  scaleChecksRecoveringChurnSeconds: 120,
  scaleChecksStreams: 1_000,
  scaleChecksStreamFlips: 10,
  scaleChecksSotwStreams: 100,
  nameBurstNames: 400_000,
  nameBurstStreams: 8,
};

/** Every row with small numbers: proves the bench runs, measures nothing worth quoting. */
export const QUICK: BenchSizes = {
  latencyRegistrations: 3,
  fanOutStreams: [5, 20],
  fanOutManyStreams: 40,
  fanOutWorkers: 2,
  fanOutEndpoints: 50,
  fanOutUpdates: 3,
  propagationSamples: 10,
  burstRegistrations: 50,
  burstStreams: 5,
  scaleServices: 100,
  scaleEndpointsPerService: 3,
  scaleChecksServices: [20, 40],
  scaleChecksInstances: 3,
  scaleChecksFlips: 2,
  scaleChecksIdleMs: 500,
  scaleChecksChurnSeconds: 3,
  scaleChecksRecoveringChurnSeconds: 3,
  scaleChecksStreams: 10,
  scaleChecksStreamFlips: 2,
  scaleChecksSotwStreams: 5,
  nameBurstNames: 4_000,
  nameBurstStreams: 2,
};

/** Parsed command line of `npm run bench`. */
export interface BenchOptions {
  sizes: BenchSizes;
  quick: boolean;
  /** Also write the rows as JSON to this file. */
  jsonPath: string | undefined;
  /** Write a CPU profile of the bridge during the large fan-out into this folder. */
  profileDir: string | undefined;
  /** Run only these benchmarks (names of {@link BENCHMARKS}); all when empty. */
  only: string[];
}

/** Benchmark names, in the order they run. */
export const BENCHMARKS = [
  "latency",
  "fan-out",
  "floor",
  "propagation",
  "burst",
  "scale",
  "scale-checks",
  "name-burst",
] as const;
/** One of {@link BENCHMARKS}. */
export type BenchmarkName = (typeof BENCHMARKS)[number];

/**
 * Reads `--quick`, `--json PATH`, `--profile DIR`, `--only a,b` and `--size NAME=VALUE` (one
 * size of {@link BenchSizes} changed, e.g. `fanOutUpdates=3` or `fanOutStreams=10,1000`);
 * throws on anything else.
 */
export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = {
    sizes: FULL,
    quick: false,
    jsonPath: undefined,
    profileDir: undefined,
    only: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === "--quick") Object.assign(options, { quick: true, sizes: QUICK });
    else if (arg === "--json") options.jsonPath = value();
    else if (arg === "--profile") options.profileDir = value();
    else if (arg === "--only") options.only = value().split(",");
    else if (arg === "--size") options.sizes = withSize(options.sizes, value());
    else
      throw new Error(`unknown option ${arg} (known: --quick, --json, --profile, --only, --size)`);
  }
  const unknown = options.only.filter((name) => !(BENCHMARKS as readonly string[]).includes(name));
  if (unknown.length > 0)
    throw new Error(`--only: unknown ${unknown.join(", ")} (known: ${BENCHMARKS.join(", ")})`);
  return options;
}

function withSize(sizes: BenchSizes, assignment: string): BenchSizes {
  const [name = "", text = ""] = assignment.split("=");
  if (!(name in sizes))
    throw new Error(`--size: unknown ${name} (known: ${Object.keys(sizes).join(", ")})`);
  const numbers = text.split(",").map(Number);
  const isPair = Array.isArray(sizes[name as keyof BenchSizes]);
  if (numbers.some((n) => !Number.isInteger(n) || n < 0) || numbers.length !== (isPair ? 2 : 1))
    throw new Error(`--size ${name}: want ${isPair ? "two integers a,b" : "an integer"}`);
  return { ...sizes, [name]: isPair ? numbers : numbers[0] };
}

/** One resident-memory sample: when (ms since the soak started) and how much (MiB). */
export interface RssSample {
  atMs: number;
  mib: number;
}

/** The smallest sample of each whole minute since the start, in order (a minute with none is skipped). */
export function perMinuteMinima(samples: readonly RssSample[]): { minute: number; mib: number }[] {
  const minima = new Map<number, number>();
  for (const { atMs, mib } of samples) {
    const minute = Math.floor(atMs / 60_000);
    minima.set(minute, Math.min(mib, minima.get(minute) ?? Infinity));
  }
  return [...minima].sort(([a], [b]) => a - b).map(([minute, mib]) => ({ minute, mib }));
}

/**
 * Least-squares slope (MiB per minute) of the minima from minute `fromMinute` on. Minima, not
 * samples: garbage collection makes RSS saw-tooth, and only its floor creeping up is a leak.
 * Undefined with fewer than two minima to fit.
 */
export function minimaSlope(
  minima: readonly { minute: number; mib: number }[],
  fromMinute: number,
): number | undefined {
  const points = minima.filter(({ minute }) => minute >= fromMinute);
  if (points.length < 2) return undefined;
  const meanX = points.reduce((sum, p) => sum + p.minute, 0) / points.length;
  const meanY = points.reduce((sum, p) => sum + p.mib, 0) / points.length;
  let covariance = 0;
  let variance = 0;
  for (const { minute, mib } of points) {
    covariance += (minute - meanX) * (mib - meanY);
    variance += (minute - meanX) ** 2;
  }
  return covariance / variance;
}

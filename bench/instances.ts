/** One endpoint of a service, as the benchmark registers it in Consul and in the references. */
export interface Instance {
  address: string;
  port: number;
}

/** The i-th distinct endpoint address of the 10.0.0.0/8 block (never contacted). */
export function instanceAddress(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

/** `count` distinct endpoints starting at index `from`, all on port 8080. */
export function instances(count: number, from = 0): Instance[] {
  return Array.from({ length: count }, (_, k) => ({
    address: instanceAddress(from + k + 1),
    port: 8080,
  }));
}

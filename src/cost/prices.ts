/**
 * Prices (spec `cost`): per vCPU-hour, GiB-hour and GPU-hour, given directly or derived from
 * a named instance type (its hourly price split into per-resource rates the way OpenCost
 * does, keeping its default price ratios: `algorithms.md` §7). A resource without a price is
 * unpriced, and every report says so: never counted as free.
 */

export interface Rates {
  /** $ per vCPU-hour. */
  cpu?: number;
  /** $ per GiB-hour. */
  memory?: number;
  /** $ per GPU-hour. */
  gpu?: number;
}

export interface InstanceType {
  name: string;
  provider: 'aws' | 'gcp' | 'azure' | 'custom';
  region: string;
  vcpu: number;
  memoryGiB: number;
  gpu: number;
  /** $ per hour, on demand, Linux. */
  hourly: number;
  /** Where the price comes from, and when. */
  source: string;
}

/**
 * A small built-in catalog of common instance types, on-demand Linux list prices in US
 * dollars as each provider listed them for the region named in 2024 (the source says so per type). List
 * prices change and differ by region: override or extend them in `cost.instances`.
 */
export const CATALOG: readonly InstanceType[] = [
  { name: 'aws:m6i.large', provider: 'aws', region: 'us-east-1', vcpu: 2, memoryGiB: 8, gpu: 0, hourly: 0.096, source: 'AWS EC2 on-demand list price, us-east-1, Linux, as of 2024' },
  { name: 'aws:m6i.xlarge', provider: 'aws', region: 'us-east-1', vcpu: 4, memoryGiB: 16, gpu: 0, hourly: 0.192, source: 'AWS EC2 on-demand list price, us-east-1, Linux, as of 2024' },
  { name: 'aws:c6i.large', provider: 'aws', region: 'us-east-1', vcpu: 2, memoryGiB: 4, gpu: 0, hourly: 0.085, source: 'AWS EC2 on-demand list price, us-east-1, Linux, as of 2024' },
  { name: 'aws:c6i.xlarge', provider: 'aws', region: 'us-east-1', vcpu: 4, memoryGiB: 8, gpu: 0, hourly: 0.17, source: 'AWS EC2 on-demand list price, us-east-1, Linux, as of 2024' },
  { name: 'aws:g5.xlarge', provider: 'aws', region: 'us-east-1', vcpu: 4, memoryGiB: 16, gpu: 1, hourly: 1.006, source: 'AWS EC2 on-demand list price, us-east-1, Linux, as of 2024' },
  { name: 'gcp:n2-standard-2', provider: 'gcp', region: 'us-central1', vcpu: 2, memoryGiB: 8, gpu: 0, hourly: 0.097118, source: 'Google Compute Engine on-demand list price, us-central1, as of 2024' },
  { name: 'gcp:e2-standard-2', provider: 'gcp', region: 'us-central1', vcpu: 2, memoryGiB: 8, gpu: 0, hourly: 0.067006, source: 'Google Compute Engine on-demand list price, us-central1, as of 2024' },
  { name: 'azure:D2s_v5', provider: 'azure', region: 'eastus', vcpu: 2, memoryGiB: 8, gpu: 0, hourly: 0.096, source: 'Azure pay-as-you-go list price, East US, Linux, as of 2024' },
];

/** OpenCost's default hourly base prices, used only for their ratios when an instance price is split. */
const BASE = { cpu: 0.031611, memory: 0.004237, gpu: 0.95 };

/**
 * An instance's hourly price split into per-resource rates with OpenCost's ratios (a node of 2 vCPU and 8 GiB: each resource's share in proportion to its base price).
 * An instance without GPUs gives no GPU rate: a GPU reserved on it is unpriced (it has none to sell), not priced at a ratio of its CPU.
 */
export function splitInstance(t: Pick<InstanceType, 'vcpu' | 'memoryGiB' | 'gpu' | 'hourly'>): Rates & { cpu: number; memory: number } {
  const memory = t.hourly / (t.gpu * (BASE.gpu / BASE.memory) + t.vcpu * (BASE.cpu / BASE.memory) + t.memoryGiB);
  return { cpu: memory * (BASE.cpu / BASE.memory), memory, ...(t.gpu > 0 ? { gpu: memory * (BASE.gpu / BASE.memory) } : {}) };
}

/** The nearest names of a catalog to `name`, for "did you mean". */
export function suggestInstance(name: string, catalog: readonly InstanceType[]): string | undefined {
  const lower = name.toLowerCase();
  const scored = catalog.map((t) => ({ t, d: distance(lower, t.name.toLowerCase()) })).sort((a, b) => a.d - b.d);
  const best = scored[0];
  return best && best.d <= Math.max(3, Math.floor(name.length / 3)) ? best.t.name : undefined;
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length]![b.length]!;
}

/** What one replica reserves. */
export interface Reservation {
  cpu: number;
  memoryGiB: number;
  gpu: number;
}

/** $ per hour of one replica, and which of its resources have no price. */
export function hourlyCost(r: Reservation, rates: Rates): { priced: number; unpriced: ('cpu' | 'memory' | 'gpu')[] } {
  const unpriced: ('cpu' | 'memory' | 'gpu')[] = [];
  let priced = 0;
  const add = (k: 'cpu' | 'memory' | 'gpu', amount: number) => {
    if (amount === 0) return;
    const rate = rates[k];
    if (rate === undefined) unpriced.push(k);
    else priced += amount * rate;
  };
  add('cpu', r.cpu);
  add('memory', r.memoryGiB);
  add('gpu', r.gpu);
  return { priced, unpriced };
}

/** Hours in an average month (365 × 24 / 12). */
export const HOURS_PER_MONTH = 730;

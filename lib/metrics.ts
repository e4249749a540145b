// A component's Prometheus series, declared as one table: each row gives a series' wire name, help text,
// labels and buckets, and `declareMetrics` registers them, in table order, on the component's registry.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** One row of a metrics table: how to register the series on a registry. */
export interface MetricDeclaration<M> {
  readonly register: (registry: Registry) => M;
}

export const counter = <L extends string = never>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): MetricDeclaration<Counter<L>> => ({
  register: (registry) => new Counter({ name, help, labelNames, registers: [registry] }),
});

export const histogram = <L extends string = never>(
  name: string,
  help: string,
  buckets: number[],
  labelNames: readonly L[] = [],
): MetricDeclaration<Histogram<L>> => ({
  register: (registry) => new Histogram({ name, help, labelNames, buckets, registers: [registry] }),
});

/** Registers every row of `table` on `registry`; the result has the table's keys. */
export function declareMetrics<T>(registry: Registry, table: { readonly [K in keyof T]: MetricDeclaration<T[K]> }): T {
  return Object.fromEntries(
    Object.entries<MetricDeclaration<unknown>>(table).map(([key, row]) => [key, row.register(registry)]),
  ) as T;
}

/** Spiderpool's running statistics of one duration: average, maximum, minimum and latest, since start. */
export interface DurationSummary {
  observe(seconds: number): void;
}

/**
 * Four gauges `<prefix>_{average,max,min,latest}_<suffix>`, as Spiderpool names them
 * (`spiderpool_ipam_allocation_max_duration_seconds`); each reads 0 until the first observation.
 */
export const durationSummary = (prefix: string, suffix: string, help: string): MetricDeclaration<DurationSummary> => ({
  register: (registry) => {
    const gauge = (stat: string, what: string) =>
      new Gauge({ name: `${prefix}_${stat}_${suffix}`, help: `${help}: ${what}`, registers: [registry] });
    const average = gauge('average', 'mean since start');
    const max = gauge('max', 'maximum since start');
    const min = gauge('min', 'minimum since start');
    const latest = gauge('latest', 'latest observation');
    let count = 0;
    let sum = 0;
    let low = Infinity;
    let high = 0;
    return {
      observe(seconds) {
        count++;
        sum += seconds;
        low = Math.min(low, seconds);
        high = Math.max(high, seconds);
        average.set(sum / count);
        max.set(high);
        min.set(low);
        latest.set(seconds);
      },
    };
  },
});

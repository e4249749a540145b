// A component's Prometheus series, declared as one table: each row gives a series' wire name, help text,
// labels and buckets, and `declareMetrics` registers them, in table order, on the component's registry.
import { Counter, Histogram, type Registry } from 'prom-client';

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

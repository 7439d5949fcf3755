import type { Metric, Registry } from 'prom-client'

/**
 * The metric `name` from `registry`, registering it with `create` the first time: several apps or
 * dispatchers may share one registry (tests, the all-in-one) and prom-client refuses duplicate names.
 */
export function registeredMetric<T extends Metric>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create()
}

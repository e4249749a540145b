// Every route the admission server serves: the CRD rules and, unless turned off, the pod webhook.
import { createPodRoutes, type PodWebhookOptions } from './pod/index.ts';
import { createCrdRoutes, DEFAULT_RULE_OPTIONS, type RuleOptions } from './rules/index.ts';
import type { WebhookRoute } from './types.ts';

export interface RoutesOptions {
  rules?: RuleOptions;
  /** false leaves pods alone entirely. */
  pod?: PodWebhookOptions | false;
}

export function createRoutes(options: RoutesOptions = {}): WebhookRoute[] {
  return [
    ...createCrdRoutes(options.rules ?? DEFAULT_RULE_OPTIONS),
    ...(options.pod === false ? [] : createPodRoutes(options.pod ?? {})),
  ];
}

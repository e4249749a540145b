// Prometheus metrics of the admission server, labelled by webhook path.
import { Registry, exponentialBuckets } from 'prom-client';
import { counter, declareMetrics, histogram } from '../lib/metrics.ts';
import type { ReadSource } from './proven-view.ts';

export type AdmissionOutcome = 'allowed' | 'denied' | 'error';

const SERIES = {
  requests: counter('spiderpool_webhook_requests_total', 'admission reviews answered, by webhook path and operation', [
    'webhook',
    'operation',
  ]),
  denials: counter(
    'spiderpool_webhook_denials_total',
    'admission reviews answered with allowed=false, by webhook path and operation',
    ['webhook', 'operation'],
  ),
  errors: counter(
    'spiderpool_webhook_handler_errors_total',
    'handlers that threw (the request was denied), by webhook path',
    ['webhook'],
  ),
  reads: counter(
    'spiderpool_webhook_pool_reads_total',
    'pool and subnet lists read by the pool and subnet webhooks, by source: cache (proven current) or apiserver (quorum LIST)',
    ['source'],
  ),
  latency: histogram(
    'spiderpool_webhook_request_duration_seconds',
    'time from receiving an admission review to sending the answer, by webhook path',
    exponentialBuckets(0.00025, 1.5, 24),
    ['webhook'],
  ),
};

export class WebhookMetrics {
  private readonly series;

  constructor(readonly registry = new Registry()) {
    this.series = declareMetrics(registry, SERIES);
  }

  /** Records one answered review; `seconds` covers decoding, the handler and encoding. */
  observe(webhook: string, operation: string, outcome: AdmissionOutcome, seconds: number): void {
    const { requests, denials, errors, latency } = this.series;
    requests.inc({ webhook, operation });
    if (outcome !== 'allowed') denials.inc({ webhook, operation });
    if (outcome === 'error') errors.inc({ webhook });
    latency.observe({ webhook }, seconds);
  }

  read(source: ReadSource): void {
    this.series.reads.inc({ source });
  }
}

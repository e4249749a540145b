// Prometheus metrics of the admission server, labelled by webhook path.
import { Counter, Histogram, Registry, exponentialBuckets } from 'prom-client';

export type AdmissionOutcome = 'allowed' | 'denied' | 'error';

export class WebhookMetrics {
  readonly registry: Registry;
  private readonly requests: Counter<'webhook' | 'operation'>;
  private readonly denials: Counter<'webhook' | 'operation'>;
  private readonly errors: Counter<'webhook'>;
  private readonly latency: Histogram<'webhook'>;

  constructor(registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    this.requests = new Counter({
      name: 'spiderpool_webhook_requests_total',
      help: 'admission reviews answered, by webhook path and operation',
      labelNames: ['webhook', 'operation'],
      registers,
    });
    this.denials = new Counter({
      name: 'spiderpool_webhook_denials_total',
      help: 'admission reviews answered with allowed=false, by webhook path and operation',
      labelNames: ['webhook', 'operation'],
      registers,
    });
    this.errors = new Counter({
      name: 'spiderpool_webhook_handler_errors_total',
      help: 'handlers that threw (the request was denied), by webhook path',
      labelNames: ['webhook'],
      registers,
    });
    this.latency = new Histogram({
      name: 'spiderpool_webhook_request_duration_seconds',
      help: 'time from receiving an admission review to sending the answer, by webhook path',
      labelNames: ['webhook'],
      buckets: exponentialBuckets(0.00025, 1.5, 24),
      registers,
    });
  }

  /** Records one answered review; `seconds` covers decoding, the handler and encoding. */
  observe(webhook: string, operation: string, outcome: AdmissionOutcome, seconds: number): void {
    this.requests.inc({ webhook, operation });
    if (outcome !== 'allowed') this.denials.inc({ webhook, operation });
    if (outcome === 'error') this.errors.inc({ webhook });
    this.latency.observe({ webhook }, seconds);
  }
}

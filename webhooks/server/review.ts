// The AdmissionReview v1 wire format: decoding a request and encoding the answer to it.
import type { AdmissionDecision, AdmissionRequest } from '../types.ts';

const REVIEW_API_VERSION = 'admission.k8s.io/v1';

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string };
  patchType?: 'JSONPatch';
  /** base64 of the JSON array of RFC 6902 operations. */
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: typeof REVIEW_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** A body that is not an AdmissionReview v1 with a request: answered with HTTP 400 and this message. */
export class MalformedReviewError extends Error {}

export function decodeReview(body: string): AdmissionRequest {
  let review: unknown;
  try {
    review = JSON.parse(body);
  } catch (err) {
    throw new MalformedReviewError(`the body is not JSON: ${(err as Error).message}`);
  }
  if (typeof review !== 'object' || review === null) throw new MalformedReviewError('the body is not a JSON object');
  const { apiVersion, kind, request } = review as { apiVersion?: unknown; kind?: unknown; request?: unknown };
  if (kind !== 'AdmissionReview' || apiVersion !== REVIEW_API_VERSION) {
    throw new MalformedReviewError(
      `expected kind AdmissionReview of ${REVIEW_API_VERSION}, got kind ${JSON.stringify(kind)} of ${JSON.stringify(apiVersion)}`,
    );
  }
  if (typeof request !== 'object' || request === null)
    throw new MalformedReviewError('the AdmissionReview has no request');
  const { uid, operation, kind: requestKind } = request as { uid?: unknown; operation?: unknown; kind?: unknown };
  if (typeof uid !== 'string' || uid === '') throw new MalformedReviewError('request.uid is missing');
  if (typeof operation !== 'string') throw new MalformedReviewError('request.operation is missing');
  if (typeof requestKind !== 'object' || requestKind === null)
    throw new MalformedReviewError('request.kind is missing');
  return request as AdmissionRequest;
}

export interface EncodeOptions {
  /** Validating webhooks and DELETE requests never carry a patch. */
  mayPatch: boolean;
}

export function encodeReview(
  uid: string,
  decision: AdmissionDecision,
  options: EncodeOptions,
): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: decision.allowed };
  if (!decision.allowed) response.status = { code: decision.code ?? 403, message: decision.message || 'denied' };
  if (options.mayPatch && decision.allowed && decision.patch?.length) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(decision.patch)).toString('base64');
  }
  if (decision.warnings?.length) response.warnings = decision.warnings;
  return { apiVersion: REVIEW_API_VERSION, kind: 'AdmissionReview', response };
}

// Why a pod is refused. The handler prefixes the pod's name and turns it into the admission response.

/** 422 for a malformed annotation (Invalid), 403 for a well-formed pod that no named pool can serve (Forbidden). */
export class PodDenied extends Error {
  override readonly name = 'PodDenied';

  constructor(
    message: string,
    readonly code: 403 | 422,
  ) {
    super(message);
  }
}

export const invalid = (message: string): PodDenied => new PodDenied(message, 422);
export const forbidden = (message: string): PodDenied => new PodDenied(message, 403);

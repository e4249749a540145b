// Building blocks for the structural OpenAPI v3 schemas of the CRDs. The CRD YAML in crds/ and the
// TypeScript types in types.generated.ts are both generated from the schemas built with these.

export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'boolean' | 'number';
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema | boolean;
  enum?: (string | number)[];
  default?: unknown;
  format?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  minLength?: number;
  pattern?: string;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  /** Name given to the generated TypeScript interface; stripped from the CRD. */
  tsType?: string;
}

export const str = (description?: string): Schema => ({ type: 'string', ...(description ? { description } : {}) });
export const bool = (dflt?: boolean, description?: string): Schema => ({
  type: 'boolean',
  ...(dflt === undefined ? {} : { default: dflt }),
  ...(description ? { description } : {}),
});
export const int = (
  opts: { min?: number; max?: number; default?: number; description?: string; format?: 'int32' | 'int64' } = {},
): Schema => ({
  type: 'integer',
  format: opts.format ?? 'int64',
  ...(opts.min === undefined ? {} : { minimum: opts.min }),
  ...(opts.max === undefined ? {} : { maximum: opts.max }),
  ...(opts.default === undefined ? {} : { default: opts.default }),
  ...(opts.description ? { description: opts.description } : {}),
});
export const strEnum = (values: string[], dflt?: string, description?: string): Schema => ({
  type: 'string',
  enum: values,
  ...(dflt === undefined ? {} : { default: dflt }),
  ...(description ? { description } : {}),
});
export const list = (items: Schema, description?: string): Schema => ({
  type: 'array',
  items,
  ...(description ? { description } : {}),
});
export const strList = (description?: string): Schema => list(str(), description);
export const obj = (
  properties: Record<string, Schema>,
  opts: { required?: string[]; description?: string; tsType?: string } = {},
): Schema => ({
  type: 'object',
  properties,
  ...(opts.required?.length ? { required: opts.required } : {}),
  ...(opts.description ? { description: opts.description } : {}),
  ...(opts.tsType ? { tsType: opts.tsType } : {}),
});
const stringMap = (description?: string): Schema => ({
  type: 'object',
  additionalProperties: str(),
  ...(description ? { description } : {}),
});

export const ipVersion = (): Schema => ({
  type: 'integer',
  format: 'int64',
  enum: [4, 6],
  description: 'IP family of the object: 4 or 6.',
});
export const ipRanges = (description: string): Schema => strList(description);
export const route = (): Schema =>
  obj({ dst: str('destination CIDR'), gw: str('gateway IP') }, { required: ['dst', 'gw'], tsType: 'Route' });

export const labelSelector = (description: string): Schema => ({
  ...obj(
    {
      matchExpressions: {
        ...list(
          obj(
            {
              key: str('the label key that the selector applies to'),
              operator: strEnum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
              values: { ...strList(), 'x-kubernetes-list-type': 'atomic' },
            },
            { required: ['key', 'operator'], tsType: 'LabelSelectorRequirement' },
          ),
        ),
        'x-kubernetes-list-type': 'atomic',
      },
      matchLabels: stringMap(),
    },
    { description, tsType: 'LabelSelector' },
  ),
  'x-kubernetes-map-type': 'atomic',
});

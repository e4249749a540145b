// The addresses a SpiderEndpoint lists, as the agent, the garbage collector's audit and the kubectl plugin read them.
import type { SpiderEndpoint } from '../api/v2beta1/types.ts';

/** Each address without its prefix length, with its pool. */
export const endpointAddresses = (endpoint: SpiderEndpoint): { ip: string; pool: string }[] =>
  (endpoint.status?.current.ips ?? []).flatMap((e) =>
    [
      [e.ipv4, e.ipv4Pool],
      [e.ipv6, e.ipv6Pool],
    ].flatMap(([address, pool]) => (address && pool ? [{ ip: address.split('/')[0] as string, pool }] : [])),
  );

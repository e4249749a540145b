export {
  type Family,
  type CIDR,
  IPError,
  parseIP,
  formatIP,
  parseCIDR,
  parseRange,
  cidrToLabelValue,
  withPrefix,
} from './address.ts';
export { type Interval, IPSet } from './ipset.ts';

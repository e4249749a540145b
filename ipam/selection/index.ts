// Pool selection of the node agent. The annotation and Multus parsers are exported on their own for the
// admission webhook, which must accept exactly what the agent accepts.
export { selectPools } from './select.ts';
export { SelectionError, type SelectionErrorReason } from './errors.ts';
export {
  parseNamespaceDefaultPools,
  parsePodIPAMAnnotations,
  type IPNumber,
  type IPPoolsItem,
  type PodIPAMAnnotations,
  type PoolNames,
  type SubnetItem,
} from './annotations.ts';
export {
  nicNetwork,
  parseMultusDefaultNetwork,
  parseMultusNetworks,
  type NetworkSelection,
  type NicNetwork,
} from './multus.ts';
export { rejectReason, type PoolFilterContext } from './filters.ts';
export { expandPoolNames } from './pool-names.ts';
export { compileGlob, isPattern, type Glob } from './glob.ts';
export { describeSelector, selectorProblem } from './label-selector.ts';
export { poolFamily } from '../records.ts';
export type { TopController } from '../owner.ts';
export type { NicPlan, SelectionInput, SelectionResult, SelectionRule } from './types.ts';
export {
  explainSelection,
  type CandidateVerdict,
  type FamilyExplanation,
  type NicExplanation,
  type SelectionExplanation,
} from './explain.ts';

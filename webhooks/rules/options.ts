// Settings of spiderpool-conf that change what the CRD rules accept.
export interface RuleOptions {
  enableIPv4: boolean;
  enableIPv6: boolean;
}

export const DEFAULT_RULE_OPTIONS: RuleOptions = { enableIPv4: true, enableIPv6: true };

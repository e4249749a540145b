// Syntax of the names that appear inside annotations.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Namespace and NetworkAttachmentDefinition names as Multus accepts them. */
export const isDns1123Label = (name: string): boolean => name.length <= 63 && DNS1123_LABEL.test(name);

/** Why a network interface name is unusable in Linux (IFNAMSIZ, path separator, blanks), or undefined. */
export function interfaceNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name.length > 15) return 'is longer than 15 characters';
  if (/[/\s]/u.test(name)) return "contains '/' or whitespace";
  return undefined;
}

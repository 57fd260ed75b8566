/**
 * Bounded metric labels. Configuration-set names come from the sending account, but a metric
 * must not grow a series per value without limit: past `max` distinct values, the rest are
 * counted as `other`.
 */
export const OTHER_LABEL = 'other';
/** The label for events sent without a configuration set (identity notifications). */
export const NO_CONFIGURATION_SET = 'none';

export function makeLabelCap(max: number): (value: string | null) => string {
  const seen = new Set<string>();
  return (value) => {
    const label = value ?? NO_CONFIGURATION_SET;
    // `other` from an earlier rule (a name that cannot be one) takes no place of its own.
    if (label === OTHER_LABEL || seen.has(label)) return label;
    if (seen.size >= max) return OTHER_LABEL;
    seen.add(label);
    return label;
  };
}

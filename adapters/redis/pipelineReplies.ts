/** A pipeline's values, in order, for the stores that read several keys in one round trip. */

/** The values of `pipeline.exec()`, in order; the first error is thrown. */
export function replyValues(replies: [Error | null, unknown][] | null): unknown[] {
  return (replies ?? []).map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

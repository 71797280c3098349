/**
 * The service's side of the `partition` parameter. Clients send `k=v` pairs joined by `,` with quotes
 * removed (the SDKs strip them), so a value may itself contain `,` or `/`; the service knows the table's
 * partition keys and starts a new pair only where a piece begins with one of them. Written apart from the
 * client's quote-aware parser, so the two are checked against each other.
 */
export class PartitionSpecError extends Error {}

/**
 * The canonical spec (`k=v` in the table's key order, keys spelled as the table spells them) of what a
 * client sent, or of a fixture's partition name. Quotes are dropped first, as the SDKs do.
 */
export function canonicalPartition(spec: string | undefined, keys: readonly string[]): string {
  const text = (spec ?? '').replace(/['"]/g, '').trim();
  if (keys.length === 0) return text;
  const values = partitionValues(text, keys);
  return keys
    .filter((k) => values.has(k))
    .map((k) => `${k}=${values.get(k)!}`)
    .join(',');
}

/** The values a spec gives, by partition key (as the table spells it). */
export function partitionValues(spec: string | undefined, keys: readonly string[]): Map<string, string> {
  const text = (spec ?? '').replace(/['"]/g, '').trim();
  const values = new Map<string, string>();
  if (text === '') return values;
  const byLower = new Map(keys.map((k) => [k.toLowerCase(), k]));
  let current: string | undefined;
  for (const piece of text.split(/(?=[,/])/)) {
    const separator = /^[,/]/.test(piece) ? piece[0]! : '';
    const body = separator ? piece.slice(1) : piece;
    const eq = body.indexOf('=');
    const key = eq > 0 ? byLower.get(body.slice(0, eq).trim().toLowerCase()) : undefined;
    if (key !== undefined && !values.has(key)) {
      current = key;
      values.set(key, body.slice(eq + 1));
    } else if (current !== undefined) {
      values.set(current, values.get(current)! + separator + body);
    } else {
      throw new PartitionSpecError(`"${body.trim()}" does not start with a partition key (${keys.join(', ')})`);
    }
  }
  for (const [k, v] of values) values.set(k, v.trim());
  return values;
}

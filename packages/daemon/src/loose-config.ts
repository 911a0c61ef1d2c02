// Reading a config that may not match its schema, for ConfigChecks: they are also given the raw JSON of a
// refused config, so check-config lists every problem at once. Whatever has the wrong shape reads as absent.

/** `value[key]` when `value` is an object, else undefined. */
export function looseField(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/** `[index, item]` pairs of `value` when it is an array, else none. */
export function looseEntries(value: unknown): [number, unknown][] {
  return Array.isArray(value) ? [...value.entries()] : [];
}

/** `value` when it is a string, else undefined. */
export function looseText(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

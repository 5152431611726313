/** Structural equality of JSON values, key order ignored: "identical request" checks use it. */
export function jsonEqual (a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((value, i) => jsonEqual(value, b[i]))
  }
  const ak = Object.keys(a as object).filter(k => (a as Record<string, unknown>)[k] !== undefined)
  const bk = Object.keys(b as object).filter(k => (b as Record<string, unknown>)[k] !== undefined)
  if (ak.length !== bk.length) return false
  return ak.every(k => jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

/**
 * Removes secrets from text bound for a log line or an error body: each given secret, and the user
 * information of any MongoDB connection string (`mongodb://user:password@host`).
 */
const URI_USERINFO = /(mongodb(?:\+srv)?:\/\/)[^@/\s]+@/gi

export function redact (text: string, secrets: readonly string[]): string {
  let out = text
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('[redacted]')
  return out.replace(URI_USERINFO, '$1[redacted]@')
}

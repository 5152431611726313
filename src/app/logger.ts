/**
 * pino options for the broker. Secrets never reach a log line: Authorization headers, passwords,
 * credentials objects and keys are redacted wherever they appear at the depths we log.
 */
import { type LoggerOptions } from 'pino'

export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'password',
  '*.password',
  '*.*.password',
  'credentials',
  '*.credentials',
  'credentialsSecret',
  '*.credentialsSecret',
  'privateKey',
  '*.privateKey',
  '*.*.privateKey',
  'clientSecret',
  '*.clientSecret',
  '*.*.clientSecret',
  'sealedPassword',
  '*.sealedPassword',
  'uri',
  '*.uri',
  'access_token',
  '*.access_token'
]

export function loggerOptions (level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'atlas-broker' }
  }
}

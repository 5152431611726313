/**
 * Misbehaviour on demand (latency, lost answers, statuses, 429s, dropped connections; by route, rate or
 * count) and Atlas's token-bucket rate limiting (`429 RATE_LIMITED_TOKEN_BUCKET` with Retry-After, as recorded).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { HttpFailure } from './http.js'

export interface FaultRule {
  method?: string
  /** Substring or pattern of the request path (query excluded). */
  path?: string | RegExp
  /**
   * `latency`: wait, then handle the request. `slow-answer`: handle it at once, then wait before answering;
   * longer than the client's timeout, the call takes effect but its answer is lost.
   */
  kind: 'latency' | 'slow-answer' | 'status' | 'rate-limit' | 'drop'
  /** For `status`: the HTTP status to answer (default 500). */
  status?: number
  /** For `latency` and `slow-answer`: the extra delay. */
  ms?: number
  /** For `rate-limit`: Retry-After seconds (default 1); 0 sends none. */
  retryAfterSeconds?: number
  /** Probability in [0, 1] that a matching request is hit (default 1). */
  rate?: number
  /** How many requests to hit before the rule expires (default: no limit). */
  times?: number
}

export interface RateLimit { capacity: number, refillPerSecond: number }

export function rateLimited (path: string, seconds: number, limit: RateLimit): HttpFailure {
  const endpoint = path.replace(/^\//, '')
  return new HttpFailure(429, 'RATE_LIMITED_TOKEN_BUCKET',
    `Rate limit exceeded for ${endpoint}. Please retry after ${seconds} seconds. Request capacity: ${limit.capacity}. Refill rate: ${limit.refillPerSecond} per 1 seconds.`,
    [endpoint, seconds, limit.capacity, limit.refillPerSecond, 1], seconds > 0 ? { 'Retry-After': String(seconds) } : {})
}

export class Faults {
  private rules: FaultRule[] = []

  add (rule: FaultRule): () => void {
    this.rules.push(rule)
    return () => { this.rules = this.rules.filter(r => r !== rule) }
  }

  clear (): void {
    this.rules = []
  }

  /** Applies matching rules; `handled` when the request was answered (or dropped) by a fault. */
  async apply (req: IncomingMessage, res: ServerResponse, url: URL, limit: RateLimit): Promise<{ handled: boolean, answerDelayMs: number }> {
    let answerDelayMs = 0
    for (const rule of [...this.rules]) {
      if (rule.method !== undefined && rule.method.toUpperCase() !== req.method) continue
      if (rule.path !== undefined && !(typeof rule.path === 'string' ? url.pathname.includes(rule.path) : rule.path.test(url.pathname))) continue
      if (rule.rate !== undefined && Math.random() >= rule.rate) continue
      if (rule.times !== undefined) {
        if (rule.times <= 0) continue
        rule.times--
      }
      if (rule.kind === 'latency') {
        await new Promise(resolve => setTimeout(resolve, rule.ms ?? 1000))
        continue
      }
      if (rule.kind === 'slow-answer') {
        answerDelayMs += rule.ms ?? 1000
        continue
      }
      if (rule.kind === 'drop') {
        req.socket.destroy()
        res.destroy()
        return { handled: true, answerDelayMs }
      }
      if (rule.kind === 'rate-limit') throw rateLimited(url.pathname, rule.retryAfterSeconds ?? 1, limit)
      const status = rule.status ?? 500
      throw new HttpFailure(status, status === 503 ? 'SERVICE_UNAVAILABLE' : 'UNEXPECTED_ERROR',
        status === 503 ? 'Service unavailable.' : 'Unexpected error.', [], status === 503 ? { 'Retry-After': '1' } : {})
    }
    return { handled: false, answerDelayMs }
  }
}

/** One token bucket for the project's endpoints. */
export class TokenBucket {
  limit: RateLimit
  private tokens: number
  private at: number

  constructor (limit: RateLimit) {
    this.limit = limit
    this.tokens = limit.capacity
    this.at = Date.now()
  }

  reset (limit: RateLimit): void {
    this.limit = limit
    this.tokens = limit.capacity
    this.at = Date.now()
  }

  get remaining (): number {
    return Math.max(0, Math.floor(this.tokens))
  }

  take (path: string): void {
    const now = Date.now()
    const { capacity, refillPerSecond } = this.limit
    this.tokens = Math.min(capacity, this.tokens + ((now - this.at) / 1000) * refillPerSecond)
    this.at = now
    if (this.tokens < 1) {
      const seconds = Math.max(1, Math.ceil((1 - this.tokens) / refillPerSecond))
      throw rateLimited(path, seconds, this.limit)
    }
    this.tokens -= 1
  }
}
